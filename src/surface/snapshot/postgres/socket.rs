//! Opening the snapshot's socket to the server, as `tokio_postgres` would.
//!
//! Why holdfast opens it instead of `Config::connect`: the snapshot wraps
//! the socket in a [`CopyTap`](super::tap::CopyTap) before the client
//! sees it, and `tokio_postgres` only accepts a socket of its own making or
//! an arbitrary stream handed to `connect_raw`, which then ignores every
//! setting about the socket. So this module applies them itself, the way
//! `tokio_postgres` 0.7 does: each host (or `hostaddr`) in order with its
//! port, every address a host name resolves to, `connect_timeout` per
//! attempt, and on TCP `TCP_NODELAY`, keepalives and `tcp_user_timeout`;
//! the first attempt whose session starts is used (a socket that connects
//! to a server that then refuses the session moves on to the next), and
//! otherwise the last error is reported.
//!
//! Not supported here (refused, so a spec asking for them is never quietly
//! connected otherwise): `load_balance_hosts=random` and a
//! `target_session_attrs` other than `any`. A snapshot is a read-only
//! transaction whose target it records; it has no use for either.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use socket2::{SockRef, TcpKeepalive};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_postgres::Config;
use tokio_postgres::config::{Host, LoadBalanceHosts, TargetSessionAttrs};

/// A connected socket: TCP or a Unix-domain socket.
pub enum Socket {
    /// A TCP connection, with the config's socket options applied.
    Tcp(TcpStream),
    /// A connection to the server's socket file.
    Unix(UnixStream),
}

/// Whether this module connects as `config` asks: not when it sets
/// `target_session_attrs` or `load_balance_hosts` (see the module
/// documentation).
pub fn supported(config: &Config) -> bool {
    config.get_load_balance_hosts() == LoadBalanceHosts::Disable
        && config.get_target_session_attrs() == TargetSessionAttrs::Any
}

/// Opens a socket to each of the config's hosts (and each address a host
/// name resolves to) in turn and hands it to `start` (the client's startup
/// and authentication), until one starts: as `tokio_postgres` does, a
/// server that accepts the socket but refuses the session (starting up,
/// too many clients, `pg_hba.conf`) moves on to the next host. The error
/// is the last attempt's.
pub async fn connect<T, F, Fut>(config: &Config, mut start: F) -> Result<T, String>
where
    F: FnMut(Socket) -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    if !supported(config) {
        // Refused with a message when the spec is read; kept here so that
        // no other caller connects otherwise than it asked.
        return Err("target_session_attrs and load_balance_hosts are not supported".into());
    }
    let hosts = config.get_hosts();
    let hostaddrs = config.get_hostaddrs();
    let ports = config.get_ports();
    if hosts.is_empty() && hostaddrs.is_empty() {
        return Err("invalid configuration: both host and hostaddr are missing".into());
    }
    if !hosts.is_empty() && !hostaddrs.is_empty() && hosts.len() != hostaddrs.len() {
        return Err(format!(
            "invalid configuration: number of hosts ({}) is different from number of hostaddrs ({})",
            hosts.len(),
            hostaddrs.len()
        ));
    }
    let count = hosts.len().max(hostaddrs.len());
    if ports.len() > 1 && ports.len() != count {
        return Err("invalid configuration: invalid number of ports".into());
    }
    let mut last = String::from("error connecting to server: no host to try");
    for i in 0..count {
        let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
        // hostaddr, when given, is where to connect; the host only names it.
        let addrs: Vec<Target> = match (hostaddrs.get(i), hosts.get(i)) {
            (Some(ip), _) => vec![Target::Tcp(SocketAddr::new(*ip, port))],
            (None, Some(Host::Tcp(name))) => match tokio::net::lookup_host((name.as_str(), port))
                .await
            {
                Ok(found) => {
                    let found: Vec<Target> = found.map(Target::Tcp).collect();
                    if found.is_empty() {
                        last = "error connecting to server: could not resolve any addresses".into();
                    }
                    found
                }
                Err(e) => {
                    last = format!("error connecting to server: {e}");
                    Vec::new()
                }
            },
            (None, Some(Host::Unix(dir))) => {
                vec![Target::Unix(dir.join(format!(".s.PGSQL.{port}")))]
            }
            (None, None) => Vec::new(),
        };
        for target in addrs {
            match open(&target, config).await {
                Ok(socket) => match start(socket).await {
                    Ok(started) => return Ok(started),
                    Err(e) => last = e,
                },
                Err(e) => last = format!("error connecting to server: {e}"),
            }
        }
    }
    Err(last)
}

/// Where one attempt connects.
enum Target {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

/// One socket, with the config's timeout and TCP options.
async fn open(target: &Target, config: &Config) -> io::Result<Socket> {
    match target {
        Target::Tcp(addr) => {
            let stream = with_timeout(config, TcpStream::connect(addr)).await?;
            tcp_options(&stream, config)?;
            Ok(Socket::Tcp(stream))
        }
        Target::Unix(path) => with_timeout(config, UnixStream::connect(path))
            .await
            .map(Socket::Unix),
    }
}

/// `TCP_NODELAY`, `tcp_user_timeout` and keepalives, as the config says.
fn tcp_options(stream: &TcpStream, config: &Config) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let sock = SockRef::from(stream);
    #[cfg(target_os = "linux")]
    if let Some(timeout) = config.get_tcp_user_timeout() {
        sock.set_tcp_user_timeout(Some(*timeout))?;
    }
    if config.get_keepalives() {
        #[allow(unused_mut)] // not every platform sets an interval or retries
        let mut keepalive = TcpKeepalive::new().with_time(config.get_keepalives_idle());
        #[cfg(not(any(
            target_os = "aix",
            target_os = "redox",
            target_os = "solaris",
            target_os = "openbsd"
        )))]
        if let Some(interval) = config.get_keepalives_interval() {
            keepalive = keepalive.with_interval(interval);
        }
        #[cfg(not(any(
            target_os = "aix",
            target_os = "redox",
            target_os = "solaris",
            target_os = "windows",
            target_os = "openbsd"
        )))]
        if let Some(retries) = config.get_keepalives_retries() {
            keepalive = keepalive.with_retries(retries);
        }
        sock.set_tcp_keepalive(&keepalive)?;
    }
    Ok(())
}

/// One connection attempt, bounded by `connect_timeout` when set.
async fn with_timeout<T>(
    config: &Config,
    attempt: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    let Some(limit) = config.get_connect_timeout().copied() else {
        return attempt.await;
    };
    match tokio::time::timeout(limit, attempt).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "connection timed out",
        )),
    }
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Socket::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Socket::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_flush(cx),
            Socket::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Socket::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
