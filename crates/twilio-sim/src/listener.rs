//! A TCP listener that lets Twilio's legacy raw operator spelling reach the handlers.
//!
//! Twilio accepts `?StartTime>=2026-03-01` typed raw into a URL (`docs/twilio-api.md` §4.1), but hyper rejects
//! a request target containing `<` or `>` (not URI characters) with an empty 400 before any
//! handler runs. [`LenientListener`] percent-encodes exactly those two bytes inside each HTTP/1
//! request target as the bytes are read, which is what a careful client would have sent; the
//! query parser then sees `StartTime%3E=…`. Headers and bodies pass through unchanged; a
//! connection that speaks HTTP/2 or uses chunked bodies is passed through untouched from then on.
//!
//! This module does not parse requests beyond finding request lines and body lengths.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Wraps a bound listener; see the module docs.
pub(crate) struct LenientListener(pub(crate) TcpListener);

impl axum::serve::Listener for LenientListener {
    type Io = LenientStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = axum::serve::Listener::accept(&mut self.0).await;
        (LenientStream::new(io), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// A stream whose reads have `<`/`>` in request targets percent-encoded.
pub(crate) struct LenientStream<S> {
    inner: S,
    scanner: Scanner,
    /// Rewritten bytes not yet handed to the reader.
    pending: Vec<u8>,
    pending_pos: usize,
}

impl<S> LenientStream<S> {
    fn new(inner: S) -> Self {
        LenientStream {
            inner,
            scanner: Scanner::default(),
            pending: Vec::new(),
            pending_pos: 0,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for LenientStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.pending_pos == this.pending.len() {
            let mut raw = [0u8; 4096];
            let mut raw_buf = ReadBuf::new(&mut raw);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut raw_buf))?;
            if raw_buf.filled().is_empty() {
                return Poll::Ready(Ok(())); // EOF
            }
            this.pending.clear();
            this.pending_pos = 0;
            this.scanner.feed(raw_buf.filled(), &mut this.pending);
        }
        // Every input byte yields at least one output byte, so this is never empty here.
        let available = &this.pending[this.pending_pos..];
        let n = available.len().min(buf.remaining());
        buf.put_slice(&available[..n]);
        this.pending_pos += n;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for LenientStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Where in the HTTP/1 byte stream we are.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    #[default]
    Method,
    Target,
    RestOfLine,
    Headers,
    Body(u64),
    /// Something we do not model (HTTP/2, chunked bodies): copy everything unchanged.
    Opaque,
}

/// Longest header line inspected for `Content-Length`/`Transfer-Encoding`.
const MAX_LINE: usize = 8 * 1024;

#[derive(Debug, Default)]
struct Scanner {
    state: State,
    /// The current method token or header line (capped at `MAX_LINE`).
    line: Vec<u8>,
    content_length: u64,
    chunked: bool,
}

impl Scanner {
    fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len());
        for &b in input {
            match self.state {
                State::Opaque => out.push(b),
                State::Method => {
                    out.push(b);
                    match b {
                        b' ' => {
                            // The HTTP/2 preface starts like a request line: "PRI * HTTP/2.0".
                            self.state = if self.line == b"PRI" {
                                State::Opaque
                            } else {
                                State::Target
                            };
                            self.line.clear();
                        }
                        // Blank lines before a request line are allowed.
                        b'\r' | b'\n' => self.line.clear(),
                        _ => self.push_line(b),
                    }
                }
                State::Target => match b {
                    b'<' => out.extend_from_slice(b"%3C"),
                    b'>' => out.extend_from_slice(b"%3E"),
                    b' ' => {
                        out.push(b);
                        self.state = State::RestOfLine;
                    }
                    b'\n' => {
                        out.push(b);
                        self.start_headers();
                    }
                    _ => out.push(b),
                },
                State::RestOfLine => {
                    out.push(b);
                    if b == b'\n' {
                        self.start_headers();
                    }
                }
                State::Headers => {
                    out.push(b);
                    if b == b'\n' {
                        self.end_header_line();
                    } else {
                        self.push_line(b);
                    }
                }
                State::Body(n) => {
                    out.push(b);
                    self.state = if n <= 1 {
                        State::Method
                    } else {
                        State::Body(n - 1)
                    };
                }
            }
        }
    }

    fn push_line(&mut self, b: u8) {
        if self.line.len() < MAX_LINE {
            self.line.push(b);
        }
    }

    fn start_headers(&mut self) {
        self.state = State::Headers;
        self.line.clear();
        self.content_length = 0;
        self.chunked = false;
    }

    fn end_header_line(&mut self) {
        let line = self.line.strip_suffix(b"\r").unwrap_or(&self.line);
        if line.is_empty() {
            self.state = if self.chunked {
                State::Opaque
            } else if self.content_length > 0 {
                State::Body(self.content_length)
            } else {
                State::Method
            };
        } else if let Some(colon) = line.iter().position(|&c| c == b':') {
            let name = &line[..colon];
            let value = String::from_utf8_lossy(&line[colon + 1..]);
            let value = value.trim();
            if name.eq_ignore_ascii_case(b"content-length") {
                match value.parse() {
                    Ok(n) => self.content_length = n,
                    // Unknown framing: stop rewriting rather than risk corrupting a body.
                    Err(_) => self.chunked = true,
                }
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                self.chunked = true;
            }
        }
        self.line.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(chunks: &[&[u8]]) -> Vec<u8> {
        let mut s = Scanner::default();
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, &mut out);
        }
        out
    }

    #[test]
    fn encodes_operators_in_targets_only() {
        let req =
            b"GET /x.json?StartTime>=2026-03-01&StartTime<=2026-03-02 HTTP/1.1\r\nX-A: a>b\r\n\r\n";
        let out = rewrite(&[req]);
        assert_eq!(
            out,
            b"GET /x.json?StartTime%3E=2026-03-01&StartTime%3C=2026-03-02 HTTP/1.1\r\nX-A: a>b\r\n\r\n"
        );
        // Split at every byte: the same result.
        let split: Vec<&[u8]> = req.chunks(1).collect();
        assert_eq!(rewrite(&split), out);
    }

    #[test]
    fn keeps_bodies_and_handles_pipelined_requests() {
        let req = b"POST /a?x> HTTP/1.1\r\nContent-Length: 3\r\n\r\n<>xGET /b?y> HTTP/1.1\r\n\r\n";
        assert_eq!(
            rewrite(&[req]),
            b"POST /a?x%3E HTTP/1.1\r\nContent-Length: 3\r\n\r\n<>xGET /b?y%3E HTTP/1.1\r\n\r\n"
        );
    }

    #[test]
    fn leaves_http2_and_chunked_connections_alone() {
        let h2 = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00<> \n";
        assert_eq!(rewrite(&[h2]), h2);
        let chunked = b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n<> \r\n0\r\n\r\nGET /b?> HTTP/1.1\r\n\r\n";
        assert_eq!(rewrite(&[chunked]), chunked);
    }
}
