//! A web dyno that can sleep: [`WebSlot`] holds the running [`WebDyno`] or nothing (asleep),
//! remembers the last request, and wakes with a fresh `WebDyno` on the next request after a sleep.
//!
//! The component (compiled, with its `InstancePre`) stays loaded while asleep, and the dyno the
//! next request wakes is made as the dyno falls asleep, off the request path: its scratch
//! directory (a tmpfs mount, whose detaching waits for an RCU grace period: 1–2 ms) is ready, no
//! instance is (an asleep dyno holds no instance memory). Waking is a swap under the slot's lock;
//! the request then instantiates as any request on a fresh dyno does.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use http::Request;
use paas_router::{Backend, BackendError, BackendFuture, RouterBody};

use super::DynoState;
use paas_runtime::{Component, DynoSpec, HandleError, Runtime, StartError, WebDyno};

/// One web dyno of the formation, awake or asleep.
pub(crate) struct WebSlot {
    runtime: Runtime,
    component: Component,
    spec: DynoSpec,
    state: Mutex<SlotState>,
    /// [`Runtime::now_ms`] of the last request.
    last_request: AtomicU64,
    retired: AtomicBool,
}

struct SlotState {
    dyno: Option<WebDyno>,
    /// Asleep: the dyno the next request wakes (scratch directory made, no instance yet).
    standby: Option<WebDyno>,
    since: SystemTime,
}

impl WebSlot {
    /// Starts the dyno now.
    pub(crate) fn start(runtime: &Runtime, component: &Component, spec: DynoSpec) -> Result<Arc<WebSlot>, StartError> {
        let dyno = WebDyno::start(runtime, component, spec.clone())?;
        Ok(Arc::new(WebSlot {
            runtime: runtime.clone(),
            component: component.clone(),
            spec,
            state: Mutex::new(SlotState { dyno: Some(dyno), standby: None, since: SystemTime::now() }),
            last_request: AtomicU64::new(runtime.now_ms()),
            retired: AtomicBool::new(false),
        }))
    }

    /// The running dyno (after [`WebSlot::start`] and until it sleeps).
    pub(crate) fn awake(&self) -> Option<WebDyno> {
        self.lock().dyno.clone()
    }

    /// CPU time of its guests, across sleeps (every dyno it wakes counts into its spec's).
    pub(crate) fn cpu(&self) -> &paas_runtime::CpuTime {
        &self.spec.cpu
    }

    /// `up` or `idle`, and since when.
    pub(crate) fn state(&self) -> (DynoState, SystemTime) {
        let state = self.lock();
        (if state.dyno.is_some() { DynoState::Up } else { DynoState::Idle }, state.since)
    }

    /// The dyno to serve a request with, woken if asleep.
    fn serving(&self) -> Result<WebDyno, HandleError> {
        // Written only when it moved: the line is not taken from the other threads' caches on
        // every request.
        let now = self.runtime.now_ms();
        if self.last_request.load(Ordering::Relaxed) != now {
            self.last_request.store(now, Ordering::Relaxed);
        }
        let mut state = self.lock();
        if let Some(dyno) = &state.dyno {
            return Ok(dyno.clone());
        }
        if self.retired.load(Ordering::Acquire) {
            return Err(HandleError::Stopped);
        }
        let dyno = match state.standby.take() {
            Some(dyno) => dyno,
            // A request right as the dyno fell asleep, before its standby was made.
            None => self.fresh().map_err(|e| HandleError::Instantiate(e.to_string()))?,
        };
        state.dyno = Some(dyno.clone());
        state.since = SystemTime::now();
        self.log("State changed from idle to up");
        Ok(dyno)
    }

    /// Puts the dyno to sleep if no request came for `idle`: gives back the dyno to stop, and
    /// makes the one the next request wakes on a blocking thread.
    pub(crate) fn sleep_if_idle(self: &Arc<Self>, idle: Duration) -> Option<WebDyno> {
        let last = self.last_request.load(Ordering::Relaxed);
        if Duration::from_millis(self.runtime.now_ms().saturating_sub(last)) < idle {
            return None;
        }
        let mut state = self.lock();
        let dyno = state.dyno.take()?;
        state.since = SystemTime::now();
        drop(state);
        self.log("State changed from up to idle");
        let slot = self.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => drop(handle.spawn_blocking(move || slot.prepare_standby())),
            Err(_) => slot.prepare_standby(),
        }
        Some(dyno)
    }

    /// Makes the dyno the next request wakes, unless one was woken or made meanwhile.
    fn prepare_standby(&self) {
        let standby = match self.fresh() {
            Ok(dyno) => dyno,
            Err(e) => {
                // The next request tries again itself (and answers H10 if that fails too).
                tracing::warn!(app = %self.spec.app, dyno = %self.spec.dyno, "cannot prepare the dyno's wake-up: {e}");
                return;
            }
        };
        let mut state = self.lock();
        if state.dyno.is_none() && state.standby.is_none() && !self.retired.load(Ordering::Acquire) {
            state.standby = Some(standby);
        }
    }

    /// A new dyno on the loaded component: a fresh scratch directory, no instance yet.
    fn fresh(&self) -> Result<WebDyno, StartError> {
        WebDyno::start(&self.runtime, &self.component, self.spec.clone())
    }

    /// Leaves the formation: never wakes again; gives back the dyno to stop, if awake (a standby
    /// is dropped, its scratch directory with it).
    pub(crate) fn retire(&self) -> Option<WebDyno> {
        self.retired.store(true, Ordering::Release);
        let mut state = self.lock();
        let standby = state.standby.take();
        let dyno = state.dyno.take();
        drop(state);
        drop(standby);
        dyno
    }

    fn log(&self, line: &str) {
        self.spec.logs.runtime_line(&self.spec.app, &self.spec.dyno, line.to_string());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The router's view of a [`WebSlot`]: wakes it when asleep.
pub(crate) struct SlotBackend(pub Arc<WebSlot>);

impl Backend for SlotBackend {
    fn call(&self, req: Request<RouterBody>) -> BackendFuture {
        match self.0.serving() {
            Ok(dyno) => super::backend::call(dyno, req),
            Err(e) => Box::pin(async move { Err::<_, BackendError>(super::backend::backend_error(e)) }),
        }
    }
}
