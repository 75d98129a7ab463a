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
//! the first socket that connects is used, otherwise the last error is
//! reported.
//!
//! Not supported here (refused, so a spec asking for them is never quietly
//! connected otherwise): `load_balance_hosts=random` and a
//! `target_session_attrs` other than `any`. A snapshot is a read-only
//! transaction whose target it records; it has no use for either.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

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

/// Connects to the first of the config's hosts that answers (see the
/// module documentation); the error names what was tried last.
pub async fn connect(config: &Config) -> Result<Socket, String> {
    if config.get_load_balance_hosts() != LoadBalanceHosts::Disable {
        return Err("load_balance_hosts is not supported by the postgres snapshot".into());
    }
    if config.get_target_session_attrs() != TargetSessionAttrs::Any {
        return Err("target_session_attrs is not supported by the postgres snapshot".into());
    }
    let hosts = config.get_hosts();
    let hostaddrs = config.get_hostaddrs();
    let ports = config.get_ports();
    if hosts.is_empty() && hostaddrs.is_empty() {
        return Err("both host and hostaddr are missing".into());
    }
    if !hosts.is_empty() && !hostaddrs.is_empty() && hosts.len() != hostaddrs.len() {
        return Err(format!(
            "number of hosts ({}) is different from number of hostaddrs ({})",
            hosts.len(),
            hostaddrs.len()
        ));
    }
    let count = hosts.len().max(hostaddrs.len());
    if ports.len() > 1 && ports.len() != count {
        return Err("invalid number of ports".into());
    }
    let mut last = None;
    for i in 0..count {
        let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
        // hostaddr, when given, is where to connect; the host only names it.
        let attempt = match (hostaddrs.get(i), hosts.get(i)) {
            (Some(ip), _) => connect_tcp(&ip.to_string(), port, config).await,
            (None, Some(Host::Tcp(name))) => connect_tcp(name, port, config).await,
            (None, Some(Host::Unix(dir))) => {
                let path = dir.join(format!(".s.PGSQL.{port}"));
                with_timeout(config, UnixStream::connect(path))
                    .await
                    .map(Socket::Unix)
            }
            (None, None) => Err(io::Error::new(io::ErrorKind::InvalidInput, "no host")),
        };
        match attempt {
            Ok(socket) => return Ok(socket),
            Err(e) => last = Some(e),
        }
    }
    Err(format!(
        "error connecting to server: {}",
        last.map_or_else(|| "no host to try".to_string(), |e| e.to_string())
    ))
}

/// Every address `host` resolves to, in order, until one connects.
async fn connect_tcp(host: &str, port: u16, config: &Config) -> io::Result<Socket> {
    let mut last = None;
    for addr in tokio::net::lookup_host((host, port)).await? {
        match with_timeout(config, TcpStream::connect(addr)).await {
            Ok(stream) => {
                tcp_options(&stream, config)?;
                return Ok(Socket::Tcp(stream));
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve any addresses",
        )
    }))
}

/// `TCP_NODELAY`, `tcp_user_timeout` and keepalives, as the config says.
fn tcp_options(stream: &TcpStream, config: &Config) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let sock = SockRef::from(stream);
    if let Some(timeout) = config.get_tcp_user_timeout() {
        sock.set_tcp_user_timeout(Some(*timeout))?;
    }
    if config.get_keepalives() {
        let mut keepalive = TcpKeepalive::new().with_time(config.get_keepalives_idle());
        if let Some(interval) = config.get_keepalives_interval() {
            keepalive = keepalive.with_interval(interval);
        }
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
            format!("connection timed out after {}", seconds(limit)),
        )),
    }
}

fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
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
