//! Content decoding of response bodies (`Content-Encoding: gzip`,
//! `deflate`, and stacks of them), done here rather than by libcurl:
//! libcurl 8.22 does not check that a compressed stream ended
//! (`gzip_do_close` in its content_encoding.c), so a compressed body cut
//! short where its HTTP framing ends (a Content-Length too short, a
//! connection closed early) would pass for a complete one. Here the
//! transfer fails unless every stream reached its end (gzip: its CRC and
//! length checked by zlib).

use flate2::{Decompress, FlushDecompress, Status};

use crate::error::{Error, ErrorKind};

/// What netdl asks for (and can decode), in `Accept-Encoding`.
pub const ACCEPTED: &std::ffi::CStr = c"gzip, deflate";

/// At most this many codings in one `Content-Encoding` (as libcurl).
const MAX_CODINGS: usize = 5;

/// The decoders of one response body, in the order they are applied.
#[derive(Debug)]
pub struct Decoder {
    stages: Vec<Stage>,
    /// Bytes between two stages (reused).
    scratch: Vec<u8>,
    /// Any body byte arrived (an empty body needs no stream end).
    fed: bool,
}

#[derive(Debug)]
struct Stage {
    kind: Kind,
    /// None until the first bytes tell zlib-wrapped from raw deflate.
    z: Option<Decompress>,
    /// The stream reached its end.
    ended: bool,
    /// The first byte of a deflate stream, waiting for the second.
    held: Option<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Gzip,
    Deflate,
}

impl Decoder {
    /// The decoder for a `Content-Encoding` value; None when the body is
    /// not encoded (absent, empty or `identity`).
    pub fn for_encoding(value: &[u8]) -> Result<Option<Decoder>, Error> {
        let mut stages = Vec::new();
        for coding in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
            let kind =
                if coding.eq_ignore_ascii_case(b"gzip") || coding.eq_ignore_ascii_case(b"x-gzip") {
                    Kind::Gzip
                } else if coding.eq_ignore_ascii_case(b"deflate") {
                    Kind::Deflate
                } else if coding.is_empty() || coding.eq_ignore_ascii_case(b"identity") {
                    continue;
                } else {
                    return Err(bad(format!(
                        "unsupported content encoding {:?}",
                        String::from_utf8_lossy(coding)
                    )));
                };
            stages.push(Stage {
                kind,
                z: (kind == Kind::Gzip).then(|| Decompress::new_gzip(15)),
                ended: false,
                held: None,
            });
        }
        if stages.len() > MAX_CODINGS {
            return Err(bad(format!("more than {MAX_CODINGS} content encodings")));
        }
        // Applied first is listed first: decode from the last.
        stages.reverse();
        Ok((!stages.is_empty()).then(|| Decoder {
            stages,
            scratch: Vec::new(),
            fed: false,
        }))
    }

    /// Decodes `input`, appending what comes out to `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        if input.is_empty() {
            return Ok(());
        }
        self.fed = true;
        let mut data = std::mem::take(&mut self.scratch);
        data.clear();
        data.extend_from_slice(input);
        let last = self.stages.len() - 1;
        let mut next = Vec::new();
        for (i, stage) in self.stages.iter_mut().enumerate() {
            let into = if i == last { &mut *out } else { &mut next };
            stage.feed(&data, into)?;
            if i != last {
                std::mem::swap(&mut data, &mut next);
                next.clear();
            }
        }
        self.scratch = data;
        Ok(())
    }

    /// Fails unless every stream ended (or no body byte arrived at all).
    pub fn finish(&self) -> Result<(), Error> {
        if !self.fed || self.stages.iter().all(|s| s.ended) {
            Ok(())
        } else {
            Err(bad(
                "the compressed body ended before its compressed stream did".to_string(),
            ))
        }
    }
}

impl Stage {
    fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        if self.z.is_none() {
            // zlib-wrapped deflate (RFC 1950) as the standard says, or raw
            // deflate as some servers send it: told by its first two bytes
            // (as libcurl tells them).
            let Some(b0) = self.held.or_else(|| input.first().copied()) else {
                return Ok(());
            };
            let rest = if self.held.is_some() {
                input
            } else {
                &input[1..]
            };
            let Some(&b1) = rest.first() else {
                self.held = Some(b0);
                return Ok(());
            };
            let zlib = b0 & 0x0f == 8 && (u16::from(b0) << 8 | u16::from(b1)) % 31 == 0;
            self.z = Some(Decompress::new(zlib));
            if self.held.take().is_some() {
                self.inflate(&[b0, b1], out)?;
                input = &input[1..];
            }
        }
        self.inflate(input, out)
    }

    fn inflate(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        while !input.is_empty() {
            if self.ended {
                if self.kind == Kind::Deflate {
                    return Err(bad("data after the end of a deflate stream".to_string()));
                }
                // Another gzip member (RFC 1952 allows several).
                self.z = Some(Decompress::new_gzip(15));
                self.ended = false;
            }
            let Some(z) = self.z.as_mut() else {
                return Ok(());
            };
            if out.capacity() - out.len() < 16 * 1024 {
                out.reserve(64 * 1024);
            }
            let (in_before, out_before) = (z.total_in(), z.total_out());
            let status = z
                .decompress_vec(input, out, FlushDecompress::None)
                .map_err(|e| bad(format!("bad compressed body: {e}")))?;
            let used = (z.total_in() - in_before) as usize;
            let made = z.total_out() - out_before;
            input = &input[used..];
            match status {
                Status::StreamEnd => self.ended = true,
                // No progress with room to write: zlib wants more input.
                _ if used == 0 && made == 0 => return Ok(()),
                _ => {}
            }
        }
        Ok(())
    }
}

fn bad(message: String) -> Error {
    Error::new(ErrorKind::Protocol, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compress, Compression, FlushCompress};

    fn compress(data: &[u8], z: &mut Compress) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + 1024);
        z.compress_vec(data, &mut out, FlushCompress::Finish)
            .unwrap();
        out
    }

    fn decode(encoding: &str, body: &[u8], chunk: usize) -> Result<Vec<u8>, Error> {
        let mut d = Decoder::for_encoding(encoding.as_bytes())?.expect("encoded");
        let mut out = Vec::new();
        for piece in body.chunks(chunk) {
            d.feed(piece, &mut out)?;
        }
        d.finish().map(|()| out)
    }

    /// Rule: gzip, zlib and raw deflate bodies, stacks of them and
    /// multi-member gzip decode byte for byte in any chunking; a stream
    /// cut short anywhere fails; unknown codings fail; identity is none.
    #[test]
    fn streams_decode_whole_or_fail() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 / 13) as u8).collect();
        let gz = compress(&data, &mut Compress::new_gzip(Compression::fast(), 15));
        let zlib = compress(&data, &mut Compress::new(Compression::fast(), true));
        let raw = compress(&data, &mut Compress::new(Compression::fast(), false));
        let deflate_of_gz = compress(&gz, &mut Compress::new(Compression::fast(), true));
        for chunk in [1, 7, 4096, usize::MAX] {
            assert_eq!(decode("gzip", &gz, chunk).unwrap(), data);
            assert_eq!(decode("x-gzip", &gz, chunk).unwrap(), data);
            assert_eq!(decode("deflate", &zlib, chunk).unwrap(), data);
            assert_eq!(decode("deflate", &raw, chunk).unwrap(), data);
            assert_eq!(
                decode("gzip, deflate", &deflate_of_gz, chunk).unwrap(),
                data
            );
            for cut in [1, 10, gz.len() / 2, gz.len() - 1] {
                let err = decode("gzip", &gz[..cut], chunk).unwrap_err();
                assert_eq!(err.kind, ErrorKind::Protocol, "cut at {cut}");
            }
            let err = decode("deflate", &zlib[..zlib.len() - 1], chunk).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Protocol);
        }
        let two = [gz.clone(), gz.clone()].concat();
        assert_eq!(
            decode("gzip", &two, 1000).unwrap(),
            [&data[..], &data[..]].concat()
        );
        assert!(decode("deflate", &[zlib.clone(), vec![1]].concat(), 99).is_err());
        let mut bad_gz = gz.clone();
        let n = bad_gz.len();
        bad_gz[n - 5] ^= 1; // the length in the trailer
        assert!(decode("gzip", &bad_gz, 4096).is_err());
        assert!(Decoder::for_encoding(b"br").is_err());
        assert!(Decoder::for_encoding(b"gzip,gzip,gzip,gzip,gzip,gzip").is_err());
        assert!(Decoder::for_encoding(b"identity").unwrap().is_none());
        assert!(Decoder::for_encoding(b"").unwrap().is_none());
        // An empty body needs no stream.
        let d = Decoder::for_encoding(b"gzip").unwrap().unwrap();
        assert!(d.finish().is_ok());
    }
}
