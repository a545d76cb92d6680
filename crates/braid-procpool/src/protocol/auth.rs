//! The handshake that admits a worker connecting over TCP: a challenge–response in both
//! directions over a per-pool random secret, so that the secret itself never crosses the
//! network and neither side talks to a peer that does not know it.
//!
//! ```text
//! parent → worker   HELLO   magic (8 bytes) · parent nonce (32)
//! worker → parent   ANSWER  worker id (8, little-endian) · HMAC(secret, WORKER_CONTEXT ·
//!                           parent nonce · worker id) (32) · worker nonce (32)
//! parent → worker   PROOF   HMAC(secret, PARENT_CONTEXT · worker nonce) (32)
//! ```
//!
//! Both nonces are fresh random bytes, so an answer recorded from one connection is worth
//! nothing on the next, and the two directions hash different context strings, so a peer
//! cannot reflect one side's challenge back to it. The parent checks the answer in constant
//! time; a wrong one closes the connection before anything else is read or sent. After the
//! proof the connection carries the pool's ordinary frames, the same as a pair of pipes.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The length of a secret, a nonce and a MAC.
pub(crate) const LEN: usize = 32;
/// Opens every HELLO: tells a worker it reached a braid pool speaking this version.
pub(crate) const MAGIC: [u8; 8] = *b"braidPP1";
pub(crate) const HELLO_LEN: usize = MAGIC.len() + LEN;
pub(crate) const ANSWER_LEN: usize = 8 + LEN + LEN;
pub(crate) const PROOF_LEN: usize = LEN;

const WORKER_CONTEXT: &[u8] = b"braid-procpool worker answers the parent's challenge";
const PARENT_CONTEXT: &[u8] = b"braid-procpool parent answers the worker's challenge";

/// A pool's secret: random bytes that the pool's workers get through their environment.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Secret(pub(crate) [u8; LEN]);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// A fresh random secret.
    pub(crate) fn random() -> std::io::Result<Secret> {
        let mut bytes = [0u8; LEN];
        braid_sys::fd::random_bytes(&mut bytes)?;
        Ok(Secret(bytes))
    }

    /// The secret as the environment carries it: lowercase hexadecimal.
    pub(crate) fn to_hex(self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Reads [`to_hex`](Secret::to_hex)'s form back.
    pub(crate) fn from_hex(text: &str) -> Option<Secret> {
        if text.len() != 2 * LEN || !text.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; LEN];
        for (byte, pair) in bytes.iter_mut().zip(text.as_bytes().chunks(2)) {
            *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
        }
        Some(Secret(bytes))
    }

    fn mac(&self, parts: &[&[u8]]) -> Hmac<Sha256> {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        for part in parts {
            mac.update(part);
        }
        mac
    }

    /// The worker's answer to the parent's `nonce`, for the worker `id`.
    pub(crate) fn worker_answer(&self, nonce: &[u8; LEN], id: u64) -> [u8; LEN] {
        let mac = self.mac(&[WORKER_CONTEXT, nonce, &id.to_le_bytes()]);
        mac.finalize().into_bytes().into()
    }

    /// The parent's proof for the worker's `nonce`.
    pub(crate) fn parent_proof(&self, nonce: &[u8; LEN]) -> [u8; LEN] {
        let mac = self.mac(&[PARENT_CONTEXT, nonce]);
        mac.finalize().into_bytes().into()
    }

    /// Whether `answer` is the worker `id`'s answer to `nonce`, compared in constant time.
    pub(crate) fn check_worker_answer(&self, nonce: &[u8; LEN], id: u64, answer: &[u8]) -> bool {
        self.mac(&[WORKER_CONTEXT, nonce, &id.to_le_bytes()])
            .verify_slice(answer)
            .is_ok()
    }

    /// Whether `proof` is the parent's proof for `nonce`, compared in constant time.
    pub(crate) fn check_parent_proof(&self, nonce: &[u8; LEN], proof: &[u8]) -> bool {
        self.mac(&[PARENT_CONTEXT, nonce])
            .verify_slice(proof)
            .is_ok()
    }
}

/// A fresh random nonce.
pub(crate) fn nonce() -> std::io::Result<[u8; LEN]> {
    let mut bytes = [0u8; LEN];
    braid_sys::fd::random_bytes(&mut bytes)?;
    Ok(bytes)
}

/// The HELLO the parent sends with `nonce`.
pub(crate) fn hello(nonce: &[u8; LEN]) -> [u8; HELLO_LEN] {
    let mut out = [0u8; HELLO_LEN];
    out[..MAGIC.len()].copy_from_slice(&MAGIC);
    out[MAGIC.len()..].copy_from_slice(nonce);
    out
}

/// The parent's nonce in a HELLO, or `None` if it is not one.
pub(crate) fn read_hello(hello: &[u8; HELLO_LEN]) -> Option<[u8; LEN]> {
    (hello[..MAGIC.len()] == MAGIC).then(|| hello[MAGIC.len()..].try_into().unwrap())
}

/// The worker `id`'s ANSWER to the parent's nonce, with its own challenge.
pub(crate) fn answer(
    secret: &Secret,
    parent_nonce: &[u8; LEN],
    id: u64,
    worker_nonce: &[u8; LEN],
) -> [u8; ANSWER_LEN] {
    let mut out = [0u8; ANSWER_LEN];
    out[..8].copy_from_slice(&id.to_le_bytes());
    out[8..8 + LEN].copy_from_slice(&secret.worker_answer(parent_nonce, id));
    out[8 + LEN..].copy_from_slice(worker_nonce);
    out
}

/// Checks an ANSWER to `parent_nonce`: the worker's id and its nonce if it knows the secret.
pub(crate) fn check_answer(
    secret: &Secret,
    parent_nonce: &[u8; LEN],
    answer: &[u8; ANSWER_LEN],
) -> Option<(u64, [u8; LEN])> {
    let id = u64::from_le_bytes(answer[..8].try_into().unwrap());
    secret
        .check_worker_answer(parent_nonce, id, &answer[8..8 + LEN])
        .then(|| (id, answer[8 + LEN..].try_into().unwrap()))
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn a_secret_survives_its_hex_form() {
        let secret = Secret::random().unwrap();
        assert_eq!(Secret::from_hex(&secret.to_hex()), Some(secret));
        for bad in ["", "00", &"g".repeat(64), &"0".repeat(66), &"é".repeat(32)] {
            assert_eq!(Secret::from_hex(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn an_answer_is_checked_against_secret_nonce_and_id() {
        let secret = Secret::random().unwrap();
        let other = Secret::random().unwrap();
        let (parent_nonce, worker_nonce) = (nonce().unwrap(), nonce().unwrap());
        let good = answer(&secret, &parent_nonce, 7, &worker_nonce);
        assert_eq!(
            check_answer(&secret, &parent_nonce, &good),
            Some((7, worker_nonce))
        );
        // Another secret, another nonce (a replay), another id: all refused.
        assert_eq!(check_answer(&other, &parent_nonce, &good), None);
        assert_eq!(check_answer(&secret, &nonce().unwrap(), &good), None);
        let mut renamed = good;
        renamed[..8].copy_from_slice(&8u64.to_le_bytes());
        assert_eq!(check_answer(&secret, &parent_nonce, &renamed), None);
    }

    #[test]
    fn the_two_directions_do_not_answer_for_each_other() {
        let secret = Secret::random().unwrap();
        let n = nonce().unwrap();
        assert!(secret.check_parent_proof(&n, &secret.parent_proof(&n)));
        assert!(!secret.check_parent_proof(&n, &secret.worker_answer(&n, 0)));
        assert!(!secret.check_parent_proof(&nonce().unwrap(), &secret.parent_proof(&n)));
        assert_eq!(read_hello(&hello(&n)), Some(n));
        let mut bad = hello(&n);
        bad[0] ^= 1;
        assert_eq!(read_hello(&bad), None);
    }
}
