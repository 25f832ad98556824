//! CRC-32C of a concatenation from the CRCs of its parts, in time logarithmic in the second
//! part's length with a few hundred word operations (`crc32c::crc32c_combine` squares 32×32
//! bit matrices for every bit of the length, which cost ~10 % of the broker's CPU on small
//! produce requests). The arithmetic is polynomial multiplication modulo the CRC-32C
//! polynomial in the reflected bit order the CRC uses: appending `n` zero bytes to a message
//! multiplies its (unconditioned) CRC by x^(8n), and the pre/post conditioning of the two
//! finished CRCs cancels out in the sum, so `crc(a ‖ b) = crc(a)·x^(8·len b) + crc(b)`.

/// CRC-32C's polynomial, reflected (bit 31 is x^0).
const POLY: u32 = 0x82F6_3B78;

/// x^(2^k) mod POLY for k = 0..67: enough for any 64-bit length in bytes (x^(8n) needs
/// k = 3..=66).
const X_POW_2K: [u32; 67] = powers_of_x();

/// a · b mod POLY (reflected).
const fn mul_mod(a: u32, mut b: u32) -> u32 {
    let mut product = 0u32;
    let mut bit = 1u32 << 31;
    while bit != 0 {
        if a & bit != 0 {
            product ^= b;
        }
        bit >>= 1;
        b = if b & 1 != 0 { (b >> 1) ^ POLY } else { b >> 1 };
    }
    product
}

const fn powers_of_x() -> [u32; 67] {
    let mut table = [0u32; 67];
    // x^1 is bit 30 in the reflected order.
    table[0] = 1 << 30;
    let mut k = 1;
    while k < 67 {
        table[k] = mul_mod(table[k - 1], table[k - 1]);
        k += 1;
    }
    table
}

/// x^(8·bytes) mod POLY.
fn x_pow_8n(bytes: u64) -> u32 {
    let mut result = 1u32 << 31; // x^0
    let mut exponent = bytes;
    // Start at x^8 = x^(2^3); each further bit of `bytes` doubles the power's exponent.
    let mut k = 3usize;
    while exponent != 0 {
        if exponent & 1 != 0 {
            result = mul_mod(X_POW_2K[k], result);
        }
        exponent >>= 1;
        k += 1;
    }
    result
}

/// The CRC-32C of `a ‖ b` from `crc(a)`, `crc(b)` and the length of `b`.
pub(crate) fn combine(crc_a: u32, crc_b: u32, len_b: usize) -> u32 {
    mul_mod(x_pow_8n(len_b as u64), crc_a) ^ crc_b
}

#[cfg(test)]
mod tests {
    use super::combine;

    #[test]
    fn combine_equals_the_crc_of_the_concatenation() {
        let data: Vec<u8> = (0..70_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for split in [0, 1, 7, 21, 61, 4096, 65_535, 69_999, 70_000] {
            let (a, b) = data.split_at(split);
            assert_eq!(
                combine(crc32c::crc32c(a), crc32c::crc32c(b), b.len()),
                crc32c::crc32c(&data),
                "split at {split}"
            );
        }
    }

    #[test]
    fn combine_agrees_with_the_crc32c_crate() {
        for len in [1usize, 3, 1 << 20, (1 << 32) + 5] {
            assert_eq!(
                combine(0xDEAD_BEEF, 0x1234_5678, len),
                crc32c::crc32c_combine(0xDEAD_BEEF, 0x1234_5678, len),
                "len {len}"
            );
        }
    }
}
