//! How a `fn(A) -> R` travels to a worker: as two code offsets, not as a pointer.
//!
//! Every worker runs the same executable as the pool's parent (a fork of it, or a fresh
//! `exec` of it), so a function sits at the same distance from any other function of the
//! program in every process, wherever address-space layout randomisation placed the image.
//! The parent sends `f`'s distance from [`anchor`]; the worker adds its own anchor's address.
//!
//! That holds only for code of the image that holds [`anchor`], the program's executable: a
//! shared library is loaded at its own place in each process. A function from one is
//! refused before it is sent.
//!
//! Alongside `f` goes a trampoline monomorphised for `(A, R)`: it decodes `A`, calls `f` and
//! encodes `R`, so the worker needs no knowledge of the types.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Why one item failed inside the worker without a panic.
#[derive(Debug)]
pub(crate) enum ItemFailure {
    /// The argument bytes did not decode as `A`.
    DecodeArgument(String),
    /// The result did not encode.
    EncodeResult(String),
}

/// The type every trampoline is erased to.
///
/// The first argument is the address of a `fn(A) -> R` whose `(A, R)` matches the
/// trampoline's instantiation. On success it returns `R`'s type name, for a message about
/// the result's size.
pub(crate) type Trampoline =
    unsafe fn(usize, &[u8], &mut Vec<u8>) -> Result<&'static str, ItemFailure>;

/// The fixed point all code offsets are measured from.
#[inline(never)]
pub(crate) fn anchor() -> u64 {
    // A distinctive body keeps the linker from folding this function into another one.
    std::hint::black_box(0x6272_6169_645f_7070)
}

/// A second fixed point: its offset from [`anchor`] is compared at start-up to prove that a
/// worker runs the very same build as its parent.
#[inline(never)]
pub(crate) fn build_probe() -> u64 {
    std::hint::black_box(0x7072_6f63_706f_6f6c)
}

/// The distance of a code address from [`anchor`].
fn offset_of(address: usize) -> i64 {
    address.wrapping_sub(anchor as *const () as usize) as i64
}

/// The address of a code offset in this process.
pub(crate) fn address_of(offset: i64) -> usize {
    (anchor as *const () as usize).wrapping_add(offset as usize)
}

/// This build's fingerprint; see [`build_probe`].
pub(crate) fn build_fingerprint() -> i64 {
    offset_of(build_probe as *const () as usize)
}

/// A function and its trampoline, ready to be named in a task message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FnRef {
    pub(crate) function: i64,
    pub(crate) trampoline: i64,
}

impl FnRef {
    /// `f`'s reference.
    ///
    /// # Errors
    ///
    /// Why `f` cannot be sent: it is not code of this program (see [`check_own`]).
    pub(crate) fn new<A, R>(f: fn(A) -> R) -> Result<FnRef, String>
    where
        A: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned,
    {
        check_own(f as usize, std::any::type_name::<fn(A) -> R>())?;
        let trampoline: Trampoline = trampoline::<A, R>;
        Ok(FnRef {
            function: offset_of(f as usize),
            trampoline: offset_of(trampoline as usize),
        })
    }

    /// The initializer's reference; it has no trampoline.
    ///
    /// # Errors
    ///
    /// As [`FnRef::new`].
    pub(crate) fn initializer(f: fn()) -> Result<FnRef, String> {
        check_own(f as usize, "fn()")?;
        Ok(FnRef {
            function: offset_of(f as usize),
            trampoline: 0,
        })
    }
}

/// Checks that the function at `address` is in the image that holds [`anchor`], so that its
/// offset names it in every worker. A program the dynamic linker knows nothing of (a static
/// executable) has no other image, and passes.
fn check_own(address: usize, type_name: &str) -> Result<(), String> {
    static OURS: OnceLock<Option<usize>> = OnceLock::new();
    // The last function found to be ours: a program submits the same few over and over, and
    // this spares the linker's lookup for them.
    static LAST_OWN: AtomicUsize = AtomicUsize::new(0);
    if LAST_OWN.load(Ordering::Relaxed) == address {
        return Ok(());
    }
    let ours = *OURS
        .get_or_init(|| braid_sys::image::image_of(anchor as *const () as usize).map(|i| i.base));
    let Some(ours) = ours else { return Ok(()) };
    let place = match braid_sys::image::image_of(address) {
        Some(image) if image.base == ours => {
            LAST_OWN.store(address, Ordering::Relaxed);
            return Ok(());
        }
        Some(image) => match image.path {
            Some(path) => format!("in {}", path.display()),
            None => "in a shared library".to_owned(),
        },
        None => "in no loaded image".to_owned(),
    };
    Err(format!(
        "the function ({type_name}) at {address:#x} is {place}, not in the program that \
         started the pool: workers find a function by its place in the program's own \
         executable, so only the program's own functions can run in them"
    ))
}

/// Decodes an `A`, runs `f` on it and appends the encoded `R` to `out`.
///
/// # Safety
///
/// `f` must be the address of a `fn(A) -> R` of this program.
unsafe fn trampoline<A, R>(
    f: usize,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<&'static str, ItemFailure>
where
    A: DeserializeOwned,
    R: Serialize,
{
    let arg: A = postcard::from_bytes(input)
        .map_err(|e| ItemFailure::DecodeArgument(format!("{}: {e}", std::any::type_name::<A>())))?;
    // SAFETY: the caller promises `f` is the address of a `fn(A) -> R`; a function pointer
    // and a `usize` have the same size on every target Rust supports.
    let f = unsafe { std::mem::transmute::<usize, fn(A) -> R>(f) };
    let result = f(arg);
    let mark = out.len();
    if let Err(e) = postcard::to_io(&result, &mut *out) {
        out.truncate(mark);
        return Err(ItemFailure::EncodeResult(format!(
            "{}: {e}",
            std::any::type_name::<R>()
        )));
    }
    Ok(std::any::type_name::<R>())
}

#[cfg(test)]
mod test {
    use super::*;

    fn double(x: u32) -> u64 {
        u64::from(x) * 2
    }

    #[test]
    fn offsets_round_trip_to_the_same_function() {
        let f = FnRef::new(double).unwrap();
        assert_eq!(address_of(f.function), double as fn(u32) -> u64 as usize);
        let trampoline = address_of(f.trampoline);
        // SAFETY: the address was made from a `Trampoline` a line above.
        let trampoline = unsafe { std::mem::transmute::<usize, Trampoline>(trampoline) };
        let mut out = Vec::new();
        let arg = postcard::to_stdvec(&21u32).unwrap();
        // SAFETY: `f.function` is the offset of `double`, a `fn(u32) -> u64`.
        unsafe { trampoline(address_of(f.function), &arg, &mut out) }.unwrap();
        assert_eq!(postcard::from_bytes::<u64>(&out).unwrap(), 42);
    }

    #[test]
    fn bad_argument_bytes_are_a_decode_failure() {
        let f = FnRef::new(double).unwrap();
        // SAFETY: made from a `Trampoline`.
        let trampoline =
            unsafe { std::mem::transmute::<usize, Trampoline>(address_of(f.trampoline)) };
        let mut out = Vec::new();
        // SAFETY: `f.function` is the offset of `double`, a `fn(u32) -> u64`.
        let res = unsafe { trampoline(address_of(f.function), &[0xff], &mut out) };
        assert!(matches!(res, Err(ItemFailure::DecodeArgument(_))));
        assert!(out.is_empty());
    }
}
