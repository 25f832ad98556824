//! The append owner of a partition. Appends are queued here and written by one writer job at a
//! time: in place on the caller's thread when the owner is idle and that thread is a
//! multi-thread tokio runtime's worker, released from driving tasks by `block_in_place` for the
//! duration ([`run_off_worker`]); otherwise on the log's write threads (`pool.rs`). An async
//! worker never touches a file: the caller gets an [`Appending`] future (or blocks on it).
//!
//! A writer job takes every queued append (up to [`WRITE_GROUP_BYTES_MAX`] /
//! [`WRITE_GROUP_FRAMES_MAX`]), assigns their offsets in queue order, lets each caller patch its
//! payload, writes all their frames with one vectored write (one per segment when the group
//! rolls), then completes each append. With `fsync = always` it then runs the group-commit round
//! itself when none is running (`durability.rs`), after handing the queue on, so the next
//! group is written while this one syncs. A job that finds more appends queued when it is done
//! hands itself back to the pool instead of looping, so a busy partition cannot hold a write
//! thread from the others.
//!
//! Failure semantics are those of a single append: a write that fails is cut back and fails
//! every append of its group (nothing of it is recorded, so the next append takes the same
//! offsets and place); a failed sync poisons the partition as before.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Wake, Waker};

use bytes::BytesMut;
use tokio::sync::oneshot;

use super::{
    AppendBatch, Appended, Inner, PatchContext, StoredFrame, Writer, is_over_age, now_us,
    validate_batch,
};
use crate::config::{FsyncPolicy, TopicSettings};
use crate::error::{LogError, Result};
use crate::frame::{FRAME_HEADER_BYTES, FrameHeader};
use crate::limits::{self, WRITE_GROUP_BYTES_MAX, WRITE_GROUP_FRAMES_MAX};
use crate::pool::WRITERS;
use crate::segment::NewFrame;
use crate::sync_util::lock;

/// The caller's payload edit, run by the owner once offsets are assigned.
pub(crate) type Patch = Box<dyn FnOnce(&mut PatchContext<'_>) + Send>;

/// One queued append.
pub(crate) struct Request {
    batch: AppendBatch,
    patch: Patch,
    done: oneshot::Sender<Result<Appended>>,
}

/// Appends waiting for the owner, and whether a writer job is queued or running.
#[derive(Default)]
pub(crate) struct AppendQueue {
    pending: Vec<Request>,
    scheduled: bool,
}

impl std::fmt::Debug for AppendQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppendQueue")
            .field("pending", &self.pending.len())
            .field("scheduled", &self.scheduled)
            .finish()
    }
}

/// An append in flight: resolves once the partition's owner has written it (or refused it).
/// The append is queued when this is created, so several can be in flight at once and keep
/// their order. Dropping it does not cancel the append.
#[must_use = "the append is queued; await it (or call `wait`) to learn its offsets"]
#[derive(Debug)]
pub struct Appending {
    state: State,
}

#[derive(Debug)]
enum State {
    Refused(Option<LogError>),
    Queued(oneshot::Receiver<Result<Appended>>),
}

impl Appending {
    fn refused(error: LogError) -> Self {
        Self {
            state: State::Refused(Some(error)),
        }
    }

    /// Blocks the calling thread until the append is written, for synchronous callers. On a
    /// multi-thread runtime's worker the wait runs inside `block_in_place`, so the worker's
    /// other tasks move to another thread meanwhile (an append to an idle partition is written
    /// by then anyway: see [`run_off_worker`]).
    pub fn wait(mut self) -> Result<Appended> {
        // Written in place already (the common case): no need to release the worker.
        match &mut self.state {
            State::Refused(error) => return Err(error.take().unwrap_or(LogError::ShuttingDown)),
            State::Queued(rx) => match rx.try_recv() {
                Ok(answer) => return answer,
                Err(oneshot::error::TryRecvError::Closed) => return Err(lost()),
                Err(oneshot::error::TryRecvError::Empty) => {}
            },
        }
        let mut pending = Some(self);
        let mut answer = None;
        if run_off_worker(|| answer = pending.take().map(block_on))
            && let Some(answer) = answer
        {
            return answer;
        }
        match pending {
            Some(appending) => block_on(appending),
            None => Err(lost()),
        }
    }
}

impl Future for Appending {
    type Output = Result<Appended>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().state {
            State::Refused(error) => {
                Poll::Ready(Err(error.take().unwrap_or(LogError::ShuttingDown)))
            }
            State::Queued(rx) => Pin::new(rx)
                .poll(cx)
                .map(|r| r.unwrap_or_else(|_| Err(lost()))),
        }
    }
}

/// The owner dropped an append without answering: only a panic in the writer job does that.
fn lost() -> LogError {
    LogError::io("", std::io::Error::other("the append's writer job failed"))
}

/// Polls a future to completion on the calling thread (no runtime needed).
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

/// Hands the partition's queue on if a writer job panics (a broken invariant, a panicking
/// patch callback): the group's callers get an error from their dropped completions, and the
/// appends queued behind it get a fresh job instead of waiting forever for one that died (each
/// job consumes its group, so even a job that always panics cannot loop).
struct OwnerGuard<'a> {
    inner: &'a Arc<Inner>,
}

impl Drop for OwnerGuard<'_> {
    fn drop(&mut self) {
        let more = {
            let mut queue = lock(&self.inner.queue);
            queue.scheduled = !queue.pending.is_empty();
            queue.scheduled
        };
        if more {
            self.inner.schedule_writer();
        }
    }
}

/// Where a writer job's sync round runs.
#[derive(Clone, Copy)]
enum Round {
    /// On the job's own thread (a write thread: the job is done with the queue by then).
    Run,
    /// On the sync threads (the job ran on a caller's thread, which has its answer to send).
    Hand,
}

/// Runs `job` on the calling thread when that thread is a worker of a multi-thread tokio
/// runtime, inside [`tokio::task::block_in_place`]: the runtime first hands the worker's other
/// tasks to another thread, so the thread stops being an async worker while `job` does file
/// I/O, and the caller pays no thread hop. Returns false (without running `job`) anywhere else
/// — no runtime, a current-thread runtime — where the caller must use the log's own threads.
///
/// This spares an append to an idle partition the hop to a write thread and back: a client
/// sending one-message requests one after another paid two thread wake-ups per request that
/// way, which halved its throughput on the development machine. `block_in_place` costs less
/// (tokio wakes a blocking-pool thread to take over the worker's tasks) but is not free.
pub(crate) fn run_off_worker(job: impl FnOnce()) -> bool {
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if !multi_thread {
        return false;
    }
    tokio::task::block_in_place(job);
    true
}

/// What one pass over a group produced: each append's answer, in queue order.
type Answers = Vec<(oneshot::Sender<Result<Appended>>, Result<Appended>)>;

/// A group in progress: frames placed but not written yet with the appends they answer, and
/// the answers settled so far.
struct Pending {
    frames: Vec<NewFrame>,
    placed: Vec<(oneshot::Sender<Result<Appended>>, Appended)>,
    bytes: u64,
    answers: Answers,
}

impl Inner {
    /// Queues an append for the owner; checks what needs no file first, so a bad batch is
    /// refused without a thread hop.
    pub(crate) fn submit_append(self: &Arc<Self>, batch: AppendBatch, patch: Patch) -> Appending {
        if let Err(error) = validate_batch(&batch, &self.settings.load()) {
            return Appending::refused(error);
        }
        if self.deleted.load(Ordering::Acquire) {
            return Appending::refused(LogError::PartitionDeleted);
        }
        let (done, rx) = oneshot::channel();
        let start = {
            let mut queue = lock(&self.queue);
            queue.pending.push(Request { batch, patch, done });
            !std::mem::replace(&mut queue.scheduled, true)
        };
        if start && !run_off_worker(|| self.writer_job(Round::Hand)) {
            self.schedule_writer();
        }
        Appending {
            state: State::Queued(rx),
        }
    }

    fn schedule_writer(self: &Arc<Self>) {
        let inner = Arc::clone(self);
        if let Err(error) = WRITERS.submit(Box::new(move || inner.writer_job(Round::Run))) {
            // No write thread can ever run: answer everything queued rather than strand it.
            let stranded = {
                let mut queue = lock(&self.queue);
                queue.scheduled = false;
                std::mem::take(&mut queue.pending)
            };
            let error = LogError::io(&self.dir, error);
            for request in stranded {
                let _ = request.done.send(Err(error.duplicate()));
            }
        }
    }

    /// One turn of the owner: write one group, answer it, hand the queue on (to a write
    /// thread), and run the sync round the group made due (if no round was running) or hand it
    /// to the sync threads.
    fn writer_job(self: &Arc<Self>, round_here: Round) {
        let guard = OwnerGuard { inner: self };
        let group = self.take_group();
        let (answers, round) = self.write_group(group);
        std::mem::forget(guard);
        for (done, answer) in answers {
            let _ = done.send(answer);
        }
        let more = {
            let mut queue = lock(&self.queue);
            queue.scheduled = !queue.pending.is_empty();
            queue.scheduled
        };
        if more {
            self.schedule_writer();
        }
        if round {
            match round_here {
                Round::Run => self.round_job(),
                Round::Hand => self.schedule_round(),
            }
        }
    }

    /// The oldest queued appends, within the group bounds (always at least one if any).
    fn take_group(&self) -> Vec<Request> {
        let mut queue = lock(&self.queue);
        let mut bytes = 0u64;
        let mut n = 0;
        for request in &queue.pending {
            bytes += request.batch.payload.len() as u64;
            if n > 0 && (n >= WRITE_GROUP_FRAMES_MAX || bytes > WRITE_GROUP_BYTES_MAX) {
                break;
            }
            n += 1;
        }
        if n == queue.pending.len() {
            std::mem::take(&mut queue.pending)
        } else {
            queue.pending.drain(..n).collect()
        }
    }

    /// Writes a group under the writer lock. Returns the answers and whether this group claimed
    /// the next sync round (`fsync = always`), which the caller must then run.
    fn write_group(&self, group: Vec<Request>) -> (Answers, bool) {
        let settings = self.settings.load_full();
        let now = now_us();
        let mut w = lock(&self.writer);
        let refusal = if self.deleted.load(Ordering::Acquire) {
            Some(LogError::PartitionDeleted)
        } else {
            self.durability.failure()
        };
        if let Some(error) = refusal {
            let answers = group.into_iter().map(|r| (r.done, Err(error.duplicate())));
            return (answers.collect(), false);
        }
        let mut pending = Pending {
            frames: Vec::with_capacity(group.len()),
            placed: Vec::with_capacity(group.len()),
            bytes: 0,
            answers: Vec::with_capacity(group.len()),
        };
        let mut requests = group.into_iter();
        while let Some(request) = requests.next() {
            let placed = self.place(&mut w, &mut pending, request, now, &settings);
            if let Err((done, error)) = placed {
                // The group stops here: what was placed before is written, the rest refused.
                self.flush_and_answer(&mut w, &mut pending, now);
                pending.answers.push((done, Err(error.duplicate())));
                let refused = requests.map(|r| (r.done, Err(error.duplicate())));
                pending.answers.extend(refused);
                return self.finish_group(w, pending.answers);
            }
        }
        self.flush_and_answer(&mut w, &mut pending, now);
        self.finish_group(w, pending.answers)
    }

    /// Writes what is pending and settles its appends' answers; returns a copy of the write's
    /// error if it failed.
    fn flush_and_answer(
        &self,
        w: &mut Writer,
        pending: &mut Pending,
        now: i64,
    ) -> Option<LogError> {
        let written = self.flush(w, pending, now);
        let log_start_offset = self.log_start.load(Ordering::Acquire);
        for (done, mut appended) in pending.placed.drain(..) {
            let answer = match &written {
                Ok(()) => {
                    appended.log_start_offset = log_start_offset;
                    Ok(appended)
                }
                Err(error) => Err(error.duplicate()),
            };
            pending.answers.push((done, answer));
        }
        written.err()
    }

    /// After a group: with `fsync = always`, records what the next round must cover (the epoch
    /// is read under the writer lock: a purge, which takes it too, starts a new one).
    fn finish_group(
        &self,
        w: std::sync::MutexGuard<'_, Writer>,
        answers: Answers,
    ) -> (Answers, bool) {
        if self.policy != FsyncPolicy::Always {
            return (answers, false);
        }
        let (epoch, next) = (self.durability.epoch(), w.next_offset);
        drop(w);
        let round = self.durability.request(epoch, next);
        (answers, round)
    }

    /// Assigns the next offsets to one append (rolling first, after writing what is pending,
    /// when the frame does not fit the active segment), patches it and adds its frame to the
    /// pending write. On error the append is handed back with the error.
    fn place(
        &self,
        w: &mut Writer,
        pending: &mut Pending,
        request: Request,
        now: i64,
        settings: &TopicSettings,
    ) -> Result<(), (oneshot::Sender<Result<Appended>>, LogError)> {
        let Request { batch, patch, done } = request;
        let frame_bytes = FRAME_HEADER_BYTES as u64 + batch.payload.len() as u64;
        let base = pending
            .frames
            .last()
            .map_or(w.next_offset, |f| f.header.next_offset());
        if self.needs_roll(w, pending, base, frame_bytes, now, settings) {
            if let Some(error) = self.flush_and_answer(w, pending, now) {
                return Err((done, error));
            }
            if let Err(error) = self.roll(w) {
                return Err((done, error));
            }
        }
        let Some(next) = base.checked_add(u64::from(batch.last_offset_delta) + 1) else {
            let error = LogError::LimitExceeded {
                name: "offset",
                value: base,
                max: u64::MAX,
            };
            return Err((done, error));
        };
        let mut payload = batch
            .payload
            .try_into_mut()
            .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
        let mut ctx = PatchContext {
            payload: &mut payload,
            base_offset: base,
            append_time_us: now,
            first_timestamp_us: batch.first_timestamp_us,
            max_timestamp_us: batch.max_timestamp_us,
            known_tail_crc: None,
        };
        patch(&mut ctx);
        let (first_ts, max_ts, tail_crc) = (
            ctx.first_timestamp_us,
            ctx.max_timestamp_us,
            ctx.known_tail_crc,
        );
        let payload_crc = payload_crc(&payload, tail_crc);
        let Ok(payload_length) = u32::try_from(payload.len()) else {
            let error = LogError::BatchTooLarge {
                size: payload.len() as u64,
                max: u64::from(limits::FRAME_PAYLOAD_BYTES_MAX),
            };
            return Err((done, error));
        };
        let header = FrameHeader {
            format: batch.format,
            base_offset: base,
            last_offset_delta: batch.last_offset_delta,
            record_count: batch.record_count,
            first_timestamp_us: first_ts,
            max_timestamp_us: max_ts,
            payload_length,
            payload_crc,
        };
        pending.bytes += header.frame_bytes();
        pending.frames.push(NewFrame {
            head: header.encode(),
            header,
            payload,
        });
        let appended = Appended {
            base_offset: base,
            last_offset: next - 1,
            append_time_us: now,
            log_start_offset: 0,
        };
        pending.placed.push((done, appended));
        Ok(())
    }

    /// Whether the frame must go into a new segment: the active one (with what is pending for
    /// it) would outgrow its size, is older than `segment_ms`, or would span too many offsets.
    fn needs_roll(
        &self,
        w: &Writer,
        pending: &Pending,
        base: u64,
        frame_bytes: u64,
        now: i64,
        s: &TopicSettings,
    ) -> bool {
        if w.active.is_empty() && pending.frames.is_empty() {
            return false;
        }
        let segment_bytes = s
            .segment_bytes
            .clamp(limits::SEGMENT_BYTES_MIN, limits::SEGMENT_BYTES_MAX);
        let by_size = w.active.size() + pending.bytes + frame_bytes > segment_bytes;
        let by_age = is_over_age(&w.active, s.segment_ms, now);
        let by_span = base - w.active.base_offset() > limits::SEGMENT_OFFSET_SPAN_MAX;
        by_size || by_age || by_span
    }

    /// Writes the pending frames to the active segment with one vectored write and records
    /// them (writer offsets, recent cache, and the high watermark unless `fsync = always`).
    /// The pending answers stay for the caller; the frames are consumed either way.
    fn flush(&self, w: &mut Writer, pending: &mut Pending, now: i64) -> Result<()> {
        let frames = std::mem::take(&mut pending.frames);
        pending.bytes = 0;
        let Some(next) = frames.last().map(|f| f.header.next_offset()) else {
            return Ok(());
        };
        w.active.append_frames(&frames, now)?;
        assert_eq!(
            w.active.next_offset(),
            next,
            "segment and writer disagree on next offset"
        );
        w.next_offset = next;
        self.next_offset.store(next, Ordering::Release);
        {
            let mut cache = lock(&self.cache);
            for frame in frames {
                cache.push(StoredFrame {
                    header: frame.header,
                    payload: frame.payload.freeze(),
                });
            }
        }
        if self.policy != FsyncPolicy::Always {
            self.publish_hw(next);
        }
        Ok(())
    }
}

/// The payload's CRC-32C: from the tail's known CRC when the patch callback gave one, else
/// computed over all of it.
fn payload_crc(payload: &[u8], known_tail_crc: Option<(usize, u32)>) -> u32 {
    let crc = match known_tail_crc {
        Some((from, tail)) if from <= payload.len() => {
            let head = payload.get(..from).unwrap_or_default();
            crate::crc::combine(crc32c::crc32c(head), tail, payload.len() - from)
        }
        _ => crc32c::crc32c(payload),
    };
    debug_assert_eq!(crc, crc32c::crc32c(payload), "a wrong known tail CRC");
    crc
}

#[cfg(test)]
mod tests {
    use super::payload_crc;

    #[test]
    fn a_known_tail_crc_gives_the_whole_payloads_crc() {
        let payload: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        let whole = crc32c::crc32c(&payload);
        for from in [0, 1, 21, 4999, 5000] {
            let tail = crc32c::crc32c(&payload[from..]);
            assert_eq!(payload_crc(&payload, Some((from, tail))), whole, "{from}");
        }
        // A position past the end is ignored: the whole payload is checksummed.
        assert_eq!(payload_crc(&payload, Some((5001, 0))), whole);
        assert_eq!(payload_crc(&payload, None), whole);
    }
}
