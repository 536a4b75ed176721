//! The small text records netdl keeps in the caches folder (`partial/`
//! and `saved/`), one per target file: a first line naming the format and
//! its version, `name value` lines (bytes as hexadecimal, so paths may
//! hold any byte), and `end`. Written to a temporary file and renamed into
//! place, so a reader sees a whole record or none; one cut short, damaged
//! or of another version reads as none.

use std::fs;
use std::io::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(2 * bytes.len());
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// The inverse of `hex` (either case).
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// Where the record of `target` lives in `dir`: a name made of a hash of
/// the target's path.
pub fn path_for(dir: &Path, target: &Path) -> PathBuf {
    let digest = Sha256::digest(target.as_os_str().as_bytes());
    dir.join(hex(&digest[..16]))
}

/// Builds a record's text.
pub struct Writer(String);

impl Writer {
    pub fn new(magic: &str) -> Writer {
        Writer(format!("{magic}\n"))
    }
    /// A field of text without line breaks (numbers, `-`).
    pub fn text(mut self, name: &str, value: &str) -> Writer {
        for piece in [name, " ", value, "\n"] {
            self.0.push_str(piece);
        }
        self
    }
    /// A field of any bytes.
    pub fn bytes(self, name: &str, value: &[u8]) -> Writer {
        let v = hex(value);
        self.text(name, &v)
    }
    /// The whole record's text.
    pub fn finish(mut self) -> String {
        self.0.push_str("end\n");
        self.0
    }
    /// Writes the record at `path` atomically (its folder made first).
    pub fn save(self, path: &Path) -> std::io::Result<()> {
        let text = self.finish();
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let mut temp = path.as_os_str().to_owned();
        temp.push(".tmp");
        let temp = PathBuf::from(temp);
        fs::File::create(&temp)?.write_all(text.as_bytes())?;
        fs::rename(&temp, path)
    }
}

/// Reads a record's fields in order.
pub struct Reader<'a> {
    lines: std::str::Lines<'a>,
}

impl<'a> Reader<'a> {
    /// None unless `text` is a record of format `magic`.
    pub fn new(text: &'a [u8], magic: &str) -> Option<Reader<'a>> {
        let mut lines = std::str::from_utf8(text).ok()?.lines();
        (lines.next()? == magic).then_some(Reader { lines })
    }
    /// The next field's text, when it is `name`.
    pub fn text(&mut self, name: &str) -> Option<&'a str> {
        let (n, v) = self.lines.next()?.split_once(' ')?;
        (n == name).then_some(v)
    }
    /// The next field's bytes, when it is `name`.
    pub fn bytes(&mut self, name: &str) -> Option<Vec<u8>> {
        unhex(self.text(name)?)
    }
    /// The next field parsed, when it is `name`.
    pub fn parse<T: std::str::FromStr>(&mut self, name: &str) -> Option<T> {
        self.text(name)?.parse().ok()
    }
    /// Whether the record ends here (it was not cut short).
    pub fn end(mut self) -> Option<()> {
        (self.lines.next()? == "end").then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(unhex("00ABff"), Some(vec![0, 0xab, 0xff]));
        for bad in ["0", "0g", "+1", "é1"] {
            assert_eq!(unhex(bad), None, "{bad}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(dir.path(), Path::new("/a\nb"));
        Writer::new("fmt 1")
            .bytes("path", b"/a\nb")
            .text("size", "42")
            .save(&path)
            .unwrap();
        let text = fs::read(&path).unwrap();
        let read = |text: &[u8]| -> Option<(Vec<u8>, u64)> {
            let mut r = Reader::new(text, "fmt 1")?;
            let v = (r.bytes("path")?, r.parse("size")?);
            r.end().map(|()| v)
        };
        assert_eq!(read(&text), Some((b"/a\nb".to_vec(), 42)));
        for cut in 0..text.len() - 1 {
            assert_eq!(read(&text[..cut]), None, "{cut}");
        }
        assert!(Reader::new(&text, "fmt 2").is_none());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1); // no temporary left
    }
}
