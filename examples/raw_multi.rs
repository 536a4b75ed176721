//! The benchmark's "raw libcurl multi" reference: the cost floor netdl's
//! design adds to. It uses the very same bundled static libcurl as netdl
//! (through the `curl` crate), on one thread, with nothing netdl adds:
//! no events, no channels, no temporary file and rename, no per-request
//! bookkeeping beyond the easy handle.
//!
//! ```text
//! raw_multi [--max N] [--cacert FILE] URL_LIST OUTDIR
//! ```
//!
//! `URL_LIST` has one transfer per line: `URL<TAB>RELATIVE_OUTPUT_PATH`.
//! At most `--max` (default 64) transfers are in flight; each body is
//! written straight to its file from libcurl's write callback (512 KiB
//! receive buffer). Over HTTPS, HTTP/2 is negotiated by ALPN and
//! `CURLOPT_PIPEWAIT` makes new transfers wait for the one multiplexed
//! connection; over plain http (HTTP/1.1 only) up to 64 keep-alive
//! connections are used. The loop sleeps in `curl_multi_poll`.
//!
//! Prints one JSON line: transfers, bytes, failures, the HTTP versions
//! used and libcurl's version. Exits 1 if any transfer failed or had a non-200 status.
//! Used by `bench/run`; see bench/README.md.

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use curl::easy::{Easy2, Handler, WriteError};
use curl::multi::{Easy2Handle, Multi};

/// `CURLINFO_HTTP_VERSION` (CURLINFO_LONG + 46); curl-sys does not name it.
const CURLINFO_HTTP_VERSION: curl_sys::CURLINFO = curl_sys::CURLINFO_LONG + 46;
/// libcurl's receive buffer, as netdl uses.
const BUFFER_SIZE: usize = 512 * 1024;

/// One transfer's body goes straight to its file.
struct ToFile {
    file: File,
    bytes: u64,
    failed: Option<std::io::Error>,
}

impl Handler for ToFile {
    fn write(&mut self, data: &[u8]) -> Result<usize, WriteError> {
        match self.file.write_all(data) {
            Ok(()) => {
                self.bytes += data.len() as u64;
                Ok(data.len())
            }
            Err(e) => {
                self.failed = Some(e);
                Ok(0)
            }
        }
    }
}

struct Args {
    max: usize,
    cacert: Option<PathBuf>,
    list: PathBuf,
    outdir: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut max = 64;
    let mut cacert = None;
    let mut rest = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--max" => {
                let v = it.next().ok_or("--max needs a value")?;
                max = v.parse().map_err(|_| format!("bad --max {v}"))?;
            }
            "--cacert" => cacert = Some(PathBuf::from(it.next().ok_or("--cacert needs a file")?)),
            _ => rest.push(a),
        }
    }
    if rest.len() != 2 || max == 0 {
        return Err("usage: raw_multi [--max N] [--cacert FILE] URL_LIST OUTDIR".into());
    }
    let outdir = PathBuf::from(rest.pop().unwrap_or_default());
    let list = PathBuf::from(rest.pop().unwrap_or_default());
    Ok(Args {
        max,
        cacert,
        list,
        outdir,
    })
}

fn read_list(path: &Path) -> std::io::Result<VecDeque<(String, PathBuf)>> {
    let mut jobs = VecDeque::new();
    for line in BufReader::new(File::open(path)?).lines() {
        let line = line?;
        if let Some((url, out)) = line.split_once('\t') {
            jobs.push_back((url.to_string(), PathBuf::from(out)));
        }
    }
    Ok(jobs)
}

fn start(multi: &Multi, args: &Args, url: &str, out: &Path) -> Result<Easy2Handle<ToFile>, String> {
    let path = args.outdir.join(out);
    let file = match File::create(&path) {
        Ok(f) => f,
        Err(_) => {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
            }
            File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?
        }
    };
    let mut easy = Easy2::new(ToFile {
        file,
        bytes: 0,
        failed: None,
    });
    configure(&mut easy, url, args.cacert.as_deref()).map_err(|e| format!("{url}: {e}"))?;
    multi.add2(easy).map_err(|e| format!("{url}: {e}"))
}

fn configure(
    easy: &mut Easy2<ToFile>,
    url: &str,
    cacert: Option<&Path>,
) -> Result<(), curl::Error> {
    easy.url(url)?;
    easy.get(true)?;
    easy.buffer_size(BUFFER_SIZE)?;
    // As netdl: wait for the multiplexed HTTP/2 connection over TLS only;
    // over plain HTTP/1.1 waiting would serialize transfers.
    easy.pipewait(url.starts_with("https://"))?;
    if let Some(ca) = cacert {
        easy.cainfo(ca)?;
    }
    Ok(())
}

fn http_version(easy: &Easy2<ToFile>) -> &'static str {
    let mut v: libc::c_long = 0;
    // SAFETY: a live easy handle; CURLINFO_HTTP_VERSION writes one long.
    let rc = unsafe { curl_sys::curl_easy_getinfo(easy.raw(), CURLINFO_HTTP_VERSION, &mut v) };
    match (rc, v) {
        (curl_sys::CURLE_OK, 2) => "1.1",
        (curl_sys::CURLE_OK, 3) => "2",
        (curl_sys::CURLE_OK, 1) => "1.0",
        _ => "other",
    }
}

fn run(args: &Args) -> Result<bool, String> {
    let mut jobs = read_list(&args.list).map_err(|e| format!("{}: {e}", args.list.display()))?;
    let total = jobs.len();
    let mut multi = Multi::new();
    multi
        .set_max_host_connections(args.max)
        .and_then(|()| multi.pipelining(false, true))
        .map_err(|e| e.to_string())?;
    // Slot i holds the transfer whose token is i.
    let mut slots: Vec<Option<Easy2Handle<ToFile>>> = (0..args.max).map(|_| None).collect();
    let mut free: Vec<usize> = (0..args.max).rev().collect();
    let (mut running, mut done, mut bytes, mut failures) = (0usize, 0usize, 0u64, 0usize);
    let (mut h1, mut h2, mut other) = (0usize, 0usize, 0usize);
    while done < total {
        while let (Some(&slot), false) = (free.last(), jobs.is_empty()) {
            let (url, out) = jobs.pop_front().unwrap_or_default();
            let mut handle = start(&multi, args, &url, &out)?;
            handle.set_token(slot).map_err(|e| e.to_string())?;
            slots[slot] = Some(handle);
            free.pop();
            running += 1;
        }
        multi.perform().map_err(|e| e.to_string())?;
        let mut progressed = false;
        let mut finished = Vec::new();
        multi.messages(|m| {
            if let Ok(token) = m.token() {
                if let Some(h) = slots.get(token).and_then(Option::as_ref) {
                    if let Some(result) = m.result_for2(h) {
                        finished.push((token, result));
                    }
                }
            }
        });
        for (token, result) in finished {
            let Some(handle) = slots[token].take() else {
                continue;
            };
            let mut easy = multi.remove2(handle).map_err(|e| e.to_string())?;
            let code = easy.response_code().unwrap_or(0);
            match http_version(&easy) {
                "1.1" => h1 += 1,
                "2" => h2 += 1,
                _ => other += 1,
            }
            let t = easy.get_mut();
            if result.is_err() || code != 200 || t.failed.is_some() {
                failures += 1;
                if failures <= 5 {
                    eprintln!(
                        "raw_multi: failed: {result:?} status {code} io {:?}",
                        t.failed
                    );
                }
            }
            bytes += t.bytes;
            done += 1;
            running -= 1;
            free.push(token);
            progressed = true;
        }
        // When slots were freed, start their successors before sleeping.
        let refill = progressed && !jobs.is_empty();
        if running > 0 && !refill {
            multi
                .poll(&mut [], Duration::from_secs(1))
                .map_err(|e| e.to_string())?;
        }
    }
    let libcurl = curl::Version::get().version().to_string();
    println!(
        "{{\"transfers\": {total}, \"bytes\": {bytes}, \"failures\": {failures}, \
         \"protocols\": {{\"1.1\": {h1}, \"2\": {h2}, \"other\": {other}}}, \
         \"libcurl\": \"{libcurl}\"}}"
    );
    Ok(failures == 0)
}

fn main() -> ExitCode {
    let result = parse_args().and_then(|args| run(&args));
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("raw_multi: {e}");
            ExitCode::from(2)
        }
    }
}
