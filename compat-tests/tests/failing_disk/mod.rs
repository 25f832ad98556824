//! A real failing filesystem for the broker's data directory: a small ext4 image mounted
//! through a loop device, that a test can fill up or shut down with `EXT4_IOC_SHUTDOWN` (as a
//! dying disk or a power cut would leave it), then remount so the journal is replayed.
//!
//! Needs root and loop devices (the CI machine has both). Where they are missing the tests say
//! so on stderr and return early rather than fail on the machine instead of the broker.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One mounted ext4 image; unmounted (lazily, so an open file cannot block it) when dropped.
pub struct LoopDisk {
    _dir: tempfile::TempDir,
    image: PathBuf,
    mount: PathBuf,
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|error| format!("{program}: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

impl LoopDisk {
    /// Creates and mounts an ext4 image of `mib` MiB with no blocks reserved for root (so the
    /// broker, running as root, meets ENOSPC like any user). `None` (with the reason on stderr)
    /// where this machine cannot loop-mount.
    pub fn create(mib: u32) -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let image = dir.path().join("disk.img");
        let mount = dir.path().join("mnt");
        let made = File::create(&image)
            .and_then(|file| file.set_len(u64::from(mib) << 20))
            .map_err(|error| error.to_string())
            .and_then(|()| std::fs::create_dir(&mount).map_err(|error| error.to_string()))
            .and_then(|()| run("mkfs.ext4", &["-q", "-F", "-m", "0", &path(&image)]));
        let disk = Self {
            _dir: dir,
            image,
            mount,
        };
        match made.and_then(|()| disk.mount()) {
            Ok(()) => Some(disk),
            Err(reason) => {
                eprintln!("SKIPPED: cannot loop-mount an ext4 image here ({reason})");
                None
            }
        }
    }

    fn mount(&self) -> Result<(), String> {
        run(
            "mount",
            &["-o", "loop", &path(&self.image), &path(&self.mount)],
        )
    }

    /// The mounted directory.
    pub fn dir(&self) -> &Path {
        &self.mount
    }

    /// Shuts the filesystem down without flushing its journal: from now on every write and
    /// sync fails with EIO, and what the journal had not committed is lost, as on a power cut.
    pub fn shut_down(&self) {
        let script = "import fcntl, os, struct, sys\n\
                      fd = os.open(sys.argv[1], os.O_RDONLY)\n\
                      fcntl.ioctl(fd, 0x8004587D, struct.pack('I', 2))\n";
        run("python3", &["-c", script, &path(&self.mount)]).expect("EXT4_IOC_SHUTDOWN");
    }

    /// Unmounts and mounts the image again (the journal is replayed), as after a reboot.
    pub fn remount(&self) {
        run("umount", &[&path(&self.mount)]).expect("umount");
        self.mount().expect("mount again");
    }

    /// Fills the filesystem with a file until writes fail with ENOSPC; returns its path.
    pub fn fill(&self) -> PathBuf {
        let filler = self.mount.join("filler");
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&filler)
            .expect("create filler");
        for chunk in [1 << 20, 4096, 512] {
            let bytes = vec![0xAB_u8; chunk];
            while file.write_all(&bytes).is_ok() {}
        }
        let _ = file.sync_all();
        filler
    }
}

impl Drop for LoopDisk {
    fn drop(&mut self) {
        let _ = run("umount", &["-l", &path(&self.mount)]);
    }
}

fn path(path: &Path) -> String {
    path.display().to_string()
}
