//! Randomness from the platform's CSPRNG (`crypto.getRandomValues`): secrets, reply ids and
//! backoff jitter. Below everything else, so any file may use it.

use crate::problem::internal;
use edgepurge_core::ApiError;

/// 32 bytes from the platform's CSPRNG (`crypto.getRandomValues`) for a secret: unlike
/// [`random_u32`], a failure is an error, never a weak secret.
pub fn random_bytes32() -> Result<[u8; 32], ApiError> {
    let mut buf = [0u8; 32];
    getrandom::getrandom(&mut buf).map_err(internal)?;
    Ok(buf)
}

/// A random u32 (backoff jitter, reply ids). On failure it is merely 0: jitter then adds
/// nothing, and backoff still grows with its cap.
pub fn random_u32() -> u32 {
    let mut b = [0u8; 4];
    let _ = getrandom::getrandom(&mut b);
    u32::from_le_bytes(b)
}

/// A random u64 (a delivery machine's jitter seed); 0 on failure, like [`random_u32`].
pub fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::getrandom(&mut b);
    u64::from_le_bytes(b)
}
