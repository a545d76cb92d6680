//! Which loaded image (the executable, or a shared library) holds a code address.

use std::ffi::{CStr, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// A loaded executable or shared library, as the dynamic linker knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// The address the image is loaded at: two addresses are in the same image exactly
    /// when their images have the same base.
    pub base: usize,
    /// The file the image was loaded from, if the linker knows it.
    pub path: Option<PathBuf>,
}

/// The image that holds `address` (`dladdr`); `None` if no loaded image holds it.
///
/// # Examples
///
/// ```
/// fn here() {}
/// let image = braid_sys::image::image_of(here as fn() as usize).unwrap();
/// assert_eq!(braid_sys::image::image_of(main as fn() as usize), Some(image));
/// # fn main() {}
/// ```
pub fn image_of(address: usize) -> Option<Image> {
    // SAFETY: `Dl_info` is plain data, for which all zeroes is a valid value.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: `dladdr` only reads the address's value and fills `info`, which lives across
    // the call.
    let found = unsafe { libc::dladdr(address as *const libc::c_void, &mut info) };
    if found == 0 {
        return None;
    }
    let path = (!info.dli_fname.is_null()).then(|| {
        // SAFETY: a non-null `dli_fname` is a NUL-terminated string that the linker keeps
        // for as long as the image stays loaded; it is copied at once.
        let name = unsafe { CStr::from_ptr(info.dli_fname) };
        PathBuf::from(OsStr::from_bytes(name.to_bytes()))
    });
    Some(Image {
        base: info.dli_fbase as usize,
        path,
    })
}

#[cfg(test)]
mod test {
    use super::*;

    fn local() -> u32 {
        7
    }

    #[test]
    fn the_c_library_is_not_this_program() {
        let ours = image_of(local as fn() -> u32 as usize).expect("this program is loaded");
        assert_eq!(
            image_of(image_of as fn(usize) -> Option<Image> as usize),
            Some(ours.clone())
        );
        // SAFETY: `RTLD_DEFAULT` searches every loaded object; the name is NUL-terminated.
        let getpid = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"getpid".as_ptr()) };
        assert!(!getpid.is_null());
        let libc = image_of(getpid as usize).expect("the C library is loaded");
        assert_ne!(libc.base, ours.base);
        assert!(libc.path.is_some());
        assert_eq!(image_of(0), None);
    }
}
