//! Start (Docker's `POST /containers/{id}/start`) and attach: a container's monitor
//! spawned, and the caller connected to it through the attach protocol.

use crate::attach::{self, read_frame};
use crate::error::{Error, Result};
use crate::record::{ContainerStatus, STOPPED_BY_USER};
use crate::{monitor, Engine};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

impl Engine {
    /// Starts a created or stopped container and returns once its command runs. A
    /// container that is already running: [`Error::NotModified`].
    pub fn start(&self, id: &str) -> Result<()> {
        self.start_attached(id).map(drop)
    }

    /// Starts a created or stopped container and returns the connection to its monitor,
    /// which streams the container's output from its first byte (see [`attach`]).
    pub fn start_attached(&self, id: &str) -> Result<UnixStream> {
        let mut lock = self.lock(id)?;
        let mut c = self.container(id)?;
        if c.half_made {
            return Err(Error::Conflict(format!(
                "container {} was never fully created (its create {}); `hull rm -f` removes it",
                hull_image::image::short_id(id),
                if c.status == ContainerStatus::Dead { "was killed" } else { "is still at work" }
            )));
        }
        if c.status.is_live() {
            return Err(Error::NotModified(format!("container {id} is already running")));
        }
        if c.monitored {
            // A monitor that is starting the container (another start), or that is
            // recording its exit: wait for either to be done.
            drop(lock);
            self.wait_until(id, Duration::from_secs(10), |c| c.status.is_live() || !c.monitored);
            lock = self.lock(id)?;
            c = self.container(id)?;
            if c.status.is_live() {
                return Err(Error::NotModified(format!("container {id} is already running")));
            }
        }
        if c.monitored {
            return Err(Error::Conflict(format!("container {id} is being started or stopped")));
        }
        let _ = std::fs::remove_file(self.dir(id).join(STOPPED_BY_USER));
        let (ours, theirs) = UnixStream::pair().map_err(Error::at("socketpair"))?;
        let pid = monitor::spawn(self.exe(), self.root(), id, Some(OwnedFd::from(theirs)))?;
        crate::fault::point("start-spawned");
        // Our child: its pidfd tells when it goes, whoever else holds the socket.
        let monitor_fd = hull_container::pid::open(pid).ok();
        // Recorded under the lock, so that a concurrent start sees the container
        // monitored from now on (the monitor reads its state under the lock too).
        let mut state = self.run_state(id);
        state.monitor_pid = pid;
        state.monitor_start = hull_container::process::start_time(pid).unwrap_or(0);
        self.save_run_state(id, &state)?;
        drop(lock);
        let mut sock = ours;
        wait_started(self, &mut sock, monitor_fd.as_ref(), id)?;
        Ok(sock)
    }

    /// Connects to a running container's monitor: the container's output from now on,
    /// and its exit status at the end.
    pub fn attach(&self, id: &str) -> Result<UnixStream> {
        let c = self.container(id)?;
        if !c.status.is_live() {
            return Err(Error::NotRunning("You cannot attach to a stopped container, start it first".into()));
        }
        let mut sock = attach::connect(&self.dir(id)).map_err(|e| {
            Error::io(format!("attach to {} (is its monitor running?)", hull_image::image::short_id(id)), e)
        })?;
        let monitor_fd = hull_container::pid::open(c.run.monitor_pid)
            .ok()
            .filter(|_| hull_container::pid::is_alive(c.run.monitor_pid, c.run.monitor_start));
        wait_started(self, &mut sock, monitor_fd.as_ref(), id)?;
        Ok(sock)
    }
}

/// Waits for the monitor's word that the command runs; its error otherwise. A monitor
/// that dies first (`monitor`: its pidfd) is noticed even while another process (the
/// container's init, cloned from it and not yet started) holds its end of the socket.
fn wait_started(engine: &Engine, sock: &mut UnixStream, monitor: Option<&OwnedFd>, id: &str) -> Result<()> {
    if let Some(m) = monitor {
        loop {
            let mut fds = [
                libc::pollfd { fd: sock.as_raw_fd(), events: libc::POLLIN, revents: 0 },
                libc::pollfd { fd: m.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            ];
            // SAFETY: a valid array of two pollfds.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
            if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            if n < 0 || fds[0].revents != 0 {
                break;
            }
            if fds[1].revents != 0 {
                return Err(monitor_died(engine, id));
            }
        }
    }
    match read_frame(sock) {
        Ok(Some((attach::STARTED, _))) => Ok(()),
        Ok(Some((attach::ERROR, p))) => {
            let (status, msg) = attach::parse_start_error(&p);
            Err(Error::start_failure(status, msg))
        }
        Ok(Some((attach::EXIT, _))) => Ok(()),
        // The end of the socket without a word: the monitor died (its socket closes
        // with it once the init has let go of its copy by exec'ing).
        Ok(_) => Err(monitor_died(engine, id)),
        Err(e) => Err(Error::io("read from the container's monitor", e)),
    }
}

/// Why a client's wait for the monitor's word ended: the monitor died, before or after
/// it started the container.
fn monitor_died(engine: &Engine, id: &str) -> Error {
    let short = hull_image::image::short_id(id);
    Error::Conflict(match engine.container(id).map(|c| c.status) {
        Ok(s) if s.is_live() => format!(
            "the monitor of container {short} died after starting it: it runs unmonitored (no logs, no exit \
             status); `hull rm -f` removes it"
        ),
        _ => format!(
            "the monitor of container {short} died before the container started; `hull start` starts it \
             again, `hull rm -f` removes what it left"
        ),
    })
}
