//! The control socket: how an administration command reaches a running server.
//!
//! sled admits one process per data directory, so while `serve` runs, the CLI cannot open the
//! store. `serve` therefore listens on a Unix socket in the data directory
//! ([`SOCKET_NAME`], mode 0600: only the directory's owner can connect), and the CLI sends it the
//! command line it was given; the server parses it with the same clap structs and runs the same
//! function the CLI would, writing the output back. Nothing here knows any command.
//!
//! The wire format is frames of `tag (1 byte) | length (u32, big-endian) | payload`:
//! - client → server, first: `r` with JSON `{"argv": [...], "cwd": "..."}`;
//! - server → client: `o` standard output bytes; `w` standard error bytes (warnings); `i` "send me your standard input" (only when the
//!   command reads it), answered by `d` chunks and an empty `e`; and last `x` with JSON
//!   `{"error": null | "message"}` (exit code 0 or 1).

use serde::{Deserialize, Serialize};
use std::io::{self, BufWriter, ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The socket's file name inside the data directory.
pub const SOCKET_NAME: &str = "control.sock";

/// Largest frame accepted (a command line or a chunk of standard input).
const MAX_FRAME: u32 = 16 << 20;

/// How long the server waits for a client that stopped talking mid-command.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(300);

/// What the client sends first.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    /// The whole command line, program name first, exactly as the CLI was given it.
    pub argv: Vec<String>,
    /// The client's working directory, for relative paths in the command line.
    pub cwd: PathBuf,
}

#[derive(Debug, Serialize, Deserialize)]
struct Exit {
    error: Option<String>,
}

/// Runs one command for a client: its request, its standard input (read lazily), and where its
/// standard output and standard error go.
pub type Handler = dyn Fn(Request, &mut dyn Read, &mut dyn Write, &mut dyn Write) -> anyhow::Result<()>
    + Send
    + Sync;

/// The path of the socket for a data directory.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_NAME)
}

fn write_frame(stream: &mut impl Write, tag: u8, payload: &[u8]) -> io::Result<()> {
    let length = u32::try_from(payload.len())
        .ok()
        .filter(|length| *length <= MAX_FRAME)
        .ok_or_else(|| io::Error::new(ErrorKind::InvalidInput, "frame too large"))?;
    let mut header = [0u8; 5];
    header[0] = tag;
    header[1..].copy_from_slice(&length.to_be_bytes());
    stream.write_all(&header)?;
    stream.write_all(payload)?;
    stream.flush()
}

fn read_frame(stream: &mut impl Read) -> io::Result<(u8, Vec<u8>)> {
    let mut header = [0u8; 5];
    stream.read_exact(&mut header)?;
    let mut length = [0u8; 4];
    length.copy_from_slice(&header[1..]);
    let length = u32::from_be_bytes(length);
    if length > MAX_FRAME {
        return Err(io::Error::new(ErrorKind::InvalidData, "frame too large"));
    }
    let mut payload = vec![0; length as usize];
    stream.read_exact(&mut payload)?;
    Ok((header[0], payload))
}

/// The server's listening socket; removes its file when dropped.
pub struct ControlSocket {
    path: PathBuf,
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Listens on the data directory's socket and runs each connection's command on its own thread.
///
/// Call this only while holding the store (sled's lock on the directory): then any socket file
/// already there is a leftover of a server that died, and is replaced. The socket is bound in a
/// fresh 0700 directory, given mode 0600 and only then moved into place, so there is no moment
/// when anyone else could connect.
pub fn listen(data_dir: &Path, handler: Arc<Handler>) -> io::Result<ControlSocket> {
    let path = socket_path(data_dir);
    let staging = data_dir.join(format!(".control-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::DirBuilder::new().mode(0o700).create(&staging)?;
    let staged = staging.join(SOCKET_NAME);
    let bound = UnixListener::bind(&staged).and_then(|listener| {
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))?;
        match std::fs::remove_file(&path) {
            Err(error) if error.kind() != ErrorKind::NotFound => return Err(error),
            _ => {}
        }
        std::fs::rename(&staged, &path)?;
        Ok(listener)
    });
    let _ = std::fs::remove_dir_all(&staging);
    let listener = bound?;
    std::thread::Builder::new()
        .name("control-socket".into())
        .spawn(move || {
            for connection in listener.incoming() {
                let Ok(stream) = connection else { continue };
                let handler = Arc::clone(&handler);
                let spawned = std::thread::Builder::new()
                    .name("control-command".into())
                    .spawn(move || serve_connection(stream, handler.as_ref()));
                if let Err(error) = spawned {
                    tracing::error!(%error, "cannot start a thread for an administration command");
                }
            }
        })?;
    tracing::info!(socket = %path.display(), "administration commands accepted");
    Ok(ControlSocket { path })
}

/// The command's standard input, fetched from the client on first read.
struct RemoteStdin {
    stream: UnixStream,
    requested: bool,
    buffer: Vec<u8>,
    position: usize,
    ended: bool,
}

impl Read for RemoteStdin {
    fn read(&mut self, into: &mut [u8]) -> io::Result<usize> {
        if !self.requested {
            self.requested = true;
            write_frame(&mut self.stream, b'i', &[])?;
        }
        while self.position == self.buffer.len() && !self.ended {
            let (tag, payload) = read_frame(&mut self.stream)?;
            match tag {
                b'd' => {
                    self.buffer = payload;
                    self.position = 0;
                }
                b'e' => self.ended = true,
                _ => return Err(io::Error::new(ErrorKind::InvalidData, "unexpected frame")),
            }
        }
        let available = &self.buffer[self.position..];
        let count = available.len().min(into.len());
        into[..count].copy_from_slice(&available[..count]);
        self.position += count;
        Ok(count)
    }
}

/// The command's standard output or error, sent to the client as `o` or `w` frames.
struct RemoteOutput {
    stream: UnixStream,
    tag: u8,
}

impl Write for RemoteOutput {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let count = bytes.len().min(MAX_FRAME as usize);
        write_frame(&mut self.stream, self.tag, &bytes[..count])?;
        Ok(count)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

fn serve_connection(stream: UnixStream, handler: &Handler) {
    let outcome = (|| -> io::Result<()> {
        stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
        let mut reader = stream.try_clone()?;
        let (tag, payload) = read_frame(&mut reader)?;
        if tag != b'r' {
            return Err(io::Error::new(ErrorKind::InvalidData, "expected a request"));
        }
        let request: Request = serde_json::from_slice(&payload)
            .map_err(|error| io::Error::new(ErrorKind::InvalidData, error))?;
        let mut stdin = RemoteStdin {
            stream: reader,
            requested: false,
            buffer: Vec::new(),
            position: 0,
            ended: false,
        };
        let mut stdout = BufWriter::with_capacity(
            64 * 1024,
            RemoteOutput {
                stream: stream.try_clone()?,
                tag: b'o',
            },
        );
        // Unbuffered: warnings are few, and must not overtake nor trail the output by much.
        let mut stderr = RemoteOutput {
            stream: stream.try_clone()?,
            tag: b'w',
        };
        let result = handler(request, &mut stdin, &mut stdout, &mut stderr);
        stdout.flush()?;
        let exit = Exit {
            error: result.err().map(|error| format!("{error:#}")),
        };
        let mut stream = stream;
        write_frame(
            &mut stream,
            b'x',
            &serde_json::to_vec(&exit).map_err(io::Error::other)?,
        )
    })();
    if let Err(error) = outcome {
        tracing::warn!(%error, "administration command connection failed");
    }
}

/// Sends a command line to the server running on `data_dir`, if there is one, relaying the
/// command's standard input and output. `Ok(None)`: no server answers (no socket, or a stale
/// one), so the caller should open the store itself.
pub fn try_remote(
    data_dir: &Path,
    request: &Request,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> anyhow::Result<Option<anyhow::Result<()>>> {
    let path = socket_path(data_dir);
    let mut stream = match UnixStream::connect(&path) {
        Ok(stream) => stream,
        Err(error)
            if matches!(
                error.kind(),
                ErrorKind::NotFound | ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None)
        }
        Err(error) => {
            return Err(anyhow::Error::new(error)
                .context(format!("cannot reach the server at {}", path.display())))
        }
    };
    let lost = "the server closed the connection before the command finished \
                (it may or may not have run)";
    write_frame(&mut stream, b'r', &serde_json::to_vec(request)?)
        .map_err(|error| anyhow::Error::new(error).context(lost))?;
    loop {
        let (tag, payload) =
            read_frame(&mut stream).map_err(|error| anyhow::Error::new(error).context(lost))?;
        match tag {
            b'o' => stdout.write_all(&payload)?,
            b'w' => {
                stdout.flush()?;
                stderr.write_all(&payload)?;
            }
            b'i' => {
                let mut chunk = vec![0; 64 * 1024];
                loop {
                    let count = stdin.read(&mut chunk)?;
                    if count == 0 {
                        break;
                    }
                    write_frame(&mut stream, b'd', &chunk[..count])?;
                }
                write_frame(&mut stream, b'e', &[])?;
            }
            b'x' => {
                stdout.flush()?;
                let exit: Exit = serde_json::from_slice(&payload)?;
                return Ok(Some(match exit.error {
                    None => Ok(()),
                    Some(message) => Err(anyhow::anyhow!(message)),
                }));
            }
            other => anyhow::bail!("unexpected answer from the server (frame {other:#04x})"),
        }
    }
}
