//! A loopback HTTP server that imitates the Hugging Face hub and a plain file server, for
//! testing the download code without a network (set `HF_ENDPOINT` or
//! [`crate::fetch::FetchSettings::hub_endpoint`] to [`MockHub::url`]).
//!
//! It answers the three requests the fetch code makes:
//! - `GET /api/datasets/<repo>/revision/<rev>`: the repository info (commit sha, file list);
//! - `GET /datasets/<repo>/resolve/<rev>/<file>` with a `Range` header, as hf-hub sends it
//!   (`bytes=0-0` for the metadata probe, `bytes=N-` for the body or a resumed body), with the
//!   `x-repo-commit`, `etag` and `content-range` headers hf-hub reads;
//! - `GET /<dataset>/<path>`: a plain file, as for HTTPS sources.
//!
//! Faults can be injected per file: the next N bodies corrupted (one byte flipped), truncated
//! (the connection closes half way, with the full `Content-Length` announced), or truncated
//! quietly (half the body, announced as the whole: a server that lost the file's tail, which
//! no transport check can notice).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// The commit sha the mock reports for every repository.
pub const MOCK_COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// A fault to inject into the next bodies served for a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Flip one byte of the body.
    Corrupt,
    /// Close the connection after half the body.
    Truncate,
    /// Serve half the body with a `Content-Length` (and hub size) that matches it.
    TruncateQuietly,
}

#[derive(Default)]
struct State {
    /// Hub files by (repo, path).
    hub: HashMap<(String, String), Vec<u8>>,
    /// Plain files by URL path (without the leading `/`).
    plain: HashMap<String, Vec<u8>>,
    /// Pending faults by file path (hub path or plain URL path), consumed in order.
    faults: HashMap<String, Vec<Fault>>,
    /// Every request line received.
    requests: Vec<String>,
}

/// A running mock; it stops serving when dropped (the thread ends with the process).
pub struct MockHub {
    address: String,
    state: Arc<Mutex<State>>,
}

impl MockHub {
    /// Starts the server on an ephemeral loopback port.
    pub fn start() -> MockHub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let address = format!("http://{}", listener.local_addr().expect("bound address"));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        MockHub { address, state }
    }

    /// The base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> &str {
        &self.address
    }

    /// Serves `bytes` as `path` of hub dataset `repo`.
    pub fn add_hub_file(&self, repo: &str, path: &str, bytes: Vec<u8>) {
        let mut state = self.state.lock().expect("mock state");
        state.hub.insert((repo.to_owned(), path.to_owned()), bytes);
    }

    /// Serves `bytes` at `/<dataset>/<path>`.
    pub fn add_plain_file(&self, dataset: &str, path: &str, bytes: Vec<u8>) {
        let mut state = self.state.lock().expect("mock state");
        state.plain.insert(format!("{dataset}/{path}"), bytes);
    }

    /// Injects `fault` into the next `times` bodies of `path` (a hub file path, or
    /// `<dataset>/<path>` for a plain file).
    pub fn inject(&self, path: &str, fault: Fault, times: usize) {
        let mut state = self.state.lock().expect("mock state");
        state
            .faults
            .entry(path.to_owned())
            .or_default()
            .extend(std::iter::repeat_n(fault, times));
    }

    /// Request lines received so far.
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().expect("mock state").requests.clone()
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut stream = stream;
    // One request per connection is all the clients here need; `Connection: close` tells them.
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("range")
        {
            range = value.trim().strip_prefix("bytes=").map(str::to_owned);
        }
    }
    let target = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .trim_start_matches('/')
        .to_owned();
    let mut state = state.lock().expect("mock state");
    state.requests.push(request_line.trim().to_owned());

    if let Some(rest) = target.strip_prefix("api/datasets/") {
        let repo = rest
            .split("/revision/")
            .next()
            .unwrap_or_default()
            .to_owned();
        let siblings: Vec<String> = state
            .hub
            .keys()
            .filter(|(r, _)| *r == repo)
            .map(|(_, path)| format!("{{\"rfilename\":\"{path}\"}}"))
            .collect();
        if siblings.is_empty() {
            respond(&mut stream, "404 Not Found", &[], b"no such repo", None);
        } else {
            let body = format!(
                "{{\"sha\":\"{MOCK_COMMIT}\",\"siblings\":[{}]}}",
                siblings.join(",")
            );
            respond(&mut stream, "200 OK", &[], body.as_bytes(), None);
        }
        return;
    }

    if let Some(rest) = target.strip_prefix("datasets/") {
        // <owner>/<name>/resolve/<rev>/<path>
        let Some((repo, after)) = rest.split_once("/resolve/") else {
            respond(&mut stream, "404 Not Found", &[], b"", None);
            return;
        };
        let path = after.split_once('/').map(|(_, p)| p).unwrap_or_default();
        let Some(mut bytes) = state.hub.get(&(repo.to_owned(), path.to_owned())).cloned() else {
            respond(&mut stream, "404 Not Found", &[], b"", None);
            return;
        };
        // The metadata probe (`bytes=0-0`) and the body must agree on a quietly truncated
        // file's size, so the fault is peeked at for the probe and taken with the body.
        let is_probe = range.as_deref() == Some("0-0");
        let quiet = state
            .faults
            .get(path)
            .and_then(|queue| queue.first())
            .is_some_and(|fault| *fault == Fault::TruncateQuietly);
        if quiet {
            bytes.truncate(bytes.len() / 2);
        }
        let etag = format!("\"{}\"", sha256_hex(&bytes));
        let size = bytes.len();
        let start: usize = range
            .as_deref()
            .and_then(|r| r.split('-').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let end = match range.as_deref().and_then(|r| r.split('-').nth(1)) {
            Some(end) if !end.is_empty() => end.parse::<usize>().unwrap_or(size - 1),
            _ => size.saturating_sub(1),
        };
        let mut body = bytes[start.min(size)..=end.min(size.saturating_sub(1))].to_vec();
        let fault = if is_probe {
            None
        } else {
            take_fault(&mut state, path)
        };
        if fault == Some(Fault::Corrupt) && !body.is_empty() {
            body[0] ^= 0xff;
        }
        let headers = [
            ("x-repo-commit".to_owned(), MOCK_COMMIT.to_owned()),
            ("etag".to_owned(), etag),
            (
                "content-range".to_owned(),
                format!("bytes {start}-{end}/{size}"),
            ),
        ];
        drop(state);
        respond(&mut stream, "206 Partial Content", &headers, &body, fault);
        return;
    }

    match state.plain.get(&target).cloned() {
        Some(mut body) => {
            let fault = take_fault(&mut state, &target);
            if fault == Some(Fault::Corrupt) && !body.is_empty() {
                body[0] ^= 0xff;
            }
            if fault == Some(Fault::TruncateQuietly) {
                body.truncate(body.len() / 2);
            }
            drop(state);
            respond(&mut stream, "200 OK", &[], &body, fault);
        }
        None => respond(&mut stream, "404 Not Found", &[], b"not found", None),
    }
}

fn take_fault(state: &mut State, path: &str) -> Option<Fault> {
    let queue = state.faults.get_mut(path)?;
    if queue.is_empty() {
        None
    } else {
        Some(queue.remove(0))
    }
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    headers: &[(String, String)],
    body: &[u8],
    fault: Option<Fault>,
) {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let sent = if fault == Some(Fault::Truncate) {
        &body[..body.len() / 2]
    } else {
        body
    };
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(sent);
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(bytes))
}
