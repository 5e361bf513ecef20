//! Web dynos: serve `wasi:http/incoming-handler` components in-process. A request given as a
//! `hyper::Request` runs in an instance (reused across requests when the app allows it, fresh
//! otherwise) under the dyno's concurrency limit; a trap or timeout throws away only that
//! instance and yields a 5xx for that one request. When the runtime's pool is full, the least
//! recently used dyno's idle instance is dropped to make room.
//!
//! Instances are made ahead of requests: a dyno keeps [`DynoSpec::ready`] instances that no
//! request has touched, made at start ([`WebDyno::prewarm`]) and again, in a task of their own,
//! each time a request's instance is used up (off the response's path). Fresh mode takes one
//! per request and drops it after (a request never sees another's state); reuse mode puts its
//! instance back among them, and retires it after a trap or [`DynoSpec::max_requests`] requests.
//!
//! The guest's call runs in the request's own task (no task spawned, no other thread woken, for
//! a call that ends before its response is taken); one still running when its response head is
//! out or its request is dropped goes on as a task of its own ([`crate::lanes::InlineCall`]).

use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use tokio::sync::{Notify, oneshot};
use wasmtime::Store;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};

use crate::component::{Component, ComponentKind, Pre};
use crate::dyno::{DynoContext, DynoSpec, Stdin};
use crate::engine::{IdleInstances, Runtime, is_pool_full};
use crate::error::{HandleError, StartError, chain};
use crate::host::DynoState;
use crate::permits::{Permit, Permits};
use crate::slots::Slot;

/// The body of a response from a web dyno.
pub type ResponseBody = wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// The error type request bodies must convert into.
pub type BodyError = wasmtime_wasi_http::Error;

/// A running web dyno. Cheap to clone; all clones are the same dyno.
#[derive(Clone)]
pub struct WebDyno(Arc<Inner>);

struct Inner {
    ctx: Arc<DynoContext>,
    pre: ProxyPre<DynoState>,
    reuse: bool,
    /// Reuse mode: an instance is retired after this many requests.
    max_requests: u64,
    /// Instances kept ready (instantiated, no request served yet in fresh mode).
    ready: usize,
    permits: Arc<Permits>,
    /// Instances waiting for a request: never used (fresh mode), or used and given back (reuse).
    idle: Mutex<Vec<Worker>>,
    /// Reuse mode: instances whose response went out while their call still runs (they come
    /// back to `idle` when it returns; may dip below 0 for a moment).
    finishing: AtomicIsize,
    /// Signalled when an instance comes back to `idle` or a finishing call ends, while a
    /// request waits for that (`waiting`).
    returned: Notify,
    /// Requests waiting in [`Inner::take_idle`].
    waiting: AtomicUsize,
    /// Ready instances being made ([`Inner::fill`]), counted with the idle ones: each request's
    /// task refills after its response, and two refills at once made more than `ready`.
    making: AtomicUsize,
    stopped: AtomicBool,
    instances: AtomicU64,
    /// Instances that took a request.
    used: AtomicU64,
    /// When it last took a request ([`Runtime::now_ms`]).
    last_used: AtomicU64,
}

/// How long a request of a reuse-mode dyno with no idle instance waits for one whose response
/// already went out to finish its call, before it makes a new instance. A client that sends its
/// next request as soon as the last body ended would otherwise often find the instance still
/// returning from its call, and make (and keep) a second one: an interpreter's worth of memory
/// and start-up for nothing.
const FINISHING_WAIT: Duration = Duration::from_millis(50);

/// A request's phases, as far as `finishing` goes: its call runs, its response went out while
/// the call ran on, the call is over.
const RUNNING: u8 = 0;
const ANSWERED: u8 = 1;
const DONE: u8 = 2;

/// A ready instance being made: counted in [`Inner::making`] until made or given up.
struct Making<'a>(&'a AtomicUsize);

impl Drop for Making<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One instance with its store, holding one of its app's instance slots.
struct Worker {
    store: Store<DynoState>,
    proxy: Proxy,
    _slot: Slot,
    /// Requests it has taken.
    served: u64,
}

impl WebDyno {
    /// Starts a web dyno of `component` (which must export `wasi:http/incoming-handler`):
    /// creates its scratch directory. Instances are created on demand.
    pub fn start(runtime: &Runtime, component: &Component, spec: DynoSpec) -> Result<WebDyno, StartError> {
        let Pre::Web(pre) = &component.0.pre else {
            return Err(StartError::WrongKind { wanted: ComponentKind::Web, found: component.kind() });
        };
        if spec.concurrency == 0 {
            return Err(StartError::Spec("concurrency must be at least 1".into()));
        }
        let ctx = DynoContext::new(runtime, &spec)?;
        let inner = Arc::new(Inner {
            ctx,
            pre: pre.clone(),
            reuse: spec.reuse,
            max_requests: spec.max_requests.max(1),
            // Reuse mode: one ready instance (more are made as concurrent requests need them).
            ready: if spec.reuse { spec.ready.min(1) } else { spec.ready }.min(spec.concurrency),
            permits: Permits::new(u32::try_from(spec.concurrency).unwrap_or(u32::MAX)),
            idle: Mutex::default(),
            finishing: AtomicIsize::new(0),
            returned: Notify::new(),
            waiting: AtomicUsize::new(0),
            making: AtomicUsize::new(0),
            stopped: AtomicBool::new(false),
            instances: AtomicU64::new(0),
            used: AtomicU64::new(0),
            last_used: AtomicU64::new(runtime.now_ms()),
        });
        // Idle instances (ready or reused) are given back when the pool is full.
        let keeper: Weak<dyn IdleInstances> = Arc::downgrade(&inner) as Weak<Inner>;
        runtime.register_keeper(keeper);
        Ok(WebDyno(inner))
    }

    /// The dyno's name (`web.1`).
    pub fn name(&self) -> &str {
        &self.0.ctx.log.dyno
    }

    /// The app's name.
    pub fn app(&self) -> &str {
        &self.0.ctx.log.app
    }

    /// The host directory preopened as the dyno's `/tmp`.
    pub fn scratch_dir(&self) -> &std::path::Path {
        self.0.ctx.scratch_path()
    }

    /// How many instances this dyno has created so far (the ready ones included).
    pub fn instances_created(&self) -> u64 {
        self.0.instances.load(Ordering::Relaxed)
    }

    /// How many of its instances have taken a request so far.
    pub fn instances_used(&self) -> u64 {
        self.0.used.load(Ordering::Relaxed)
    }

    /// Bytes of linear memory its instances (running, ready or idle) hold now.
    pub fn memory_bytes(&self) -> u64 {
        self.0.ctx.memory.load(Ordering::Relaxed) as u64
    }

    /// CPU time its guests have used (this dyno and, after a sleep, the dyno it woke from).
    pub fn cpu(&self) -> &crate::cpu::CpuTime {
        &self.0.ctx.cpu
    }

    /// How many instances wait for a request right now (ready, or reused and idle).
    pub fn instances_idle(&self) -> usize {
        self.0.idle_len()
    }

    /// Serves one request; errors become a 5xx response (see [`HandleError::status`]).
    pub async fn serve<B>(&self, req: hyper::Request<B>) -> hyper::Response<ResponseBody>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BodyError>,
    {
        match self.handle(req).await {
            Ok(resp) => resp,
            Err(e) => error_response(&e),
        }
    }

    /// Serves one request, telling apart the ways it can fail (the router maps them to its
    /// error codes). Waits for a free slot when `concurrency` requests are already running.
    pub async fn handle<B>(&self, req: hyper::Request<B>) -> Result<hyper::Response<ResponseBody>, HandleError>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BodyError>,
    {
        let inner = &self.0;
        if inner.stopped.load(Ordering::Acquire) {
            return Err(HandleError::Stopped);
        }
        let permit = inner.permits.acquire().await.map_err(|_| HandleError::Stopped)?;
        // Written only when it moved (a few times a second): the line is not taken from the
        // other threads' caches on every request.
        let now = inner.ctx.runtime.now_ms();
        if inner.last_used.load(Ordering::Relaxed) != now {
            inner.last_used.store(now, Ordering::Relaxed);
        }
        let timeout = inner.ctx.limits.request_timeout;
        // From the request's arrival: waiting for an instance, and making one, count in it.
        let deadline = Instant::now() + timeout;
        let idle = inner.take_idle().await;
        let (tx, mut rx) = oneshot::channel();
        // The call hands the instance back through `done` once the guest's call returns, so a
        // call that returns without ever setting its response outparam is noticed at once even
        // when the guest keeps the outparam alive (StarlingMonkey does on a reused instance):
        // the sender then stays in the instance's table and `rx` alone would never resolve.
        // The concurrency permit travels with the instance: it is released only once the
        // instance is back among the idle ones (or thrown away).
        let (done_tx, mut done_rx) = oneshot::channel::<(Worker, Permit)>();
        // Reuse mode: whether the response went out while the call still ran (`finishing`).
        let phase = Arc::new(AtomicU8::new(RUNNING));
        let task_phase = phase.clone();
        let this = self.0.clone();
        // The guest's call is polled right here, in the request's own task: a call that ends
        // before its response is taken (most) costs no task and wakes no other thread. If the
        // response head is set while the call runs on (it may go on writing the body), or if
        // this request is dropped (the client went away, the router's timeout), the rest of the
        // call goes on as a task of its own: a call is never cut off half-way.
        let mut call = inner.ctx.runtime.call_guest(&inner.ctx.cpu, async move {
            let run = async {
                let mut worker = match idle {
                    Some(worker) => worker,
                    None => {
                        let slot = this.ctx.instance_slot().await;
                        this.instantiate(slot).await?
                    }
                };
                DynoContext::set_deadline_at(&mut worker.store, Some(deadline));
                if worker.served == 0 {
                    this.used.fetch_add(1, Ordering::Relaxed);
                }
                worker.served += 1;
                let data = worker.store.data_mut();
                let req = data.http().new_incoming_request(Scheme::Http, req).map_err(|e| trap(&this, &e))?;
                let out = data.http().new_response_outparam(tx).map_err(|e| trap(&this, &e))?;
                worker
                    .proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut worker.store, req, out)
                    .await
                    .map_err(|e| trap(&this, &e))?;
                Ok::<_, HandleError>(worker)
            };
            let outcome = match until(deadline, run).await {
                Some(Ok(worker)) => {
                    // `handle` gets the instance, unless it already returned (with the response):
                    // then it is given back here.
                    if let Err((worker, permit)) = done_tx.send((worker, permit)) {
                        this.give_back(worker, permit);
                    }
                    Ok(())
                }
                Some(Err(e)) => {
                    // The instance is gone (trapped, or never made): the next one is made off
                    // this request's path.
                    this.replace(None, permit);
                    Err(e)
                }
                None => {
                    this.replace(None, permit);
                    this.ctx.log.runtime_line(format!("Error R12 (Request timeout) -> request exceeded {timeout:?}, instance discarded"));
                    Err(HandleError::Timeout(timeout))
                }
            };
            if task_phase.swap(DONE, Ordering::AcqRel) == ANSWERED {
                this.finishing.fetch_sub(1, Ordering::SeqCst);
                this.wake_waiter();
            }
            outcome
        });
        let ended = tokio::select! {
            biased;
            set = &mut rx => match set {
                Ok(set) => {
                    // The response head is set. A call that moved to the background lane may
                    // have returned already and handed its instance over: give it back (after
                    // `close`, the call gets it back from `send` instead). One that runs on goes
                    // on by itself (`call`, dropped with this function, detaches) and gives its
                    // instance back when it returns.
                    done_rx.close();
                    if let Ok((worker, permit)) = done_rx.try_recv() {
                        inner.give_back(worker, permit);
                    } else if inner.reuse
                        && phase.compare_exchange(RUNNING, ANSWERED, Ordering::AcqRel, Ordering::Acquire).is_ok()
                    {
                        inner.finishing.fetch_add(1, Ordering::SeqCst);
                    }
                    return set.map_err(|code| HandleError::Guest(format!("{code:?}")));
                }
                // The outparam was dropped unset: wait for the call to end.
                Err(_) => (&mut call).await,
            },
            ended = &mut call => ended,
        };
        match ended {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(panicked) => return Err(HandleError::Trap(format!("host task failed: {}", panicked.0))),
        }
        // The call returned and sent its instance; the response, if the guest set one, is
        // already in the channel.
        let Ok((worker, permit)) = done_rx.try_recv() else { return Err(HandleError::NoResponse) };
        match rx.try_recv() {
            Ok(set) => {
                inner.give_back(worker, permit);
                set.map_err(|code| HandleError::Guest(format!("{code:?}")))
            }
            Err(oneshot::error::TryRecvError::Closed) => {
                // The guest dropped the outparam unset: the instance itself is fine.
                inner.give_back(worker, permit);
                Err(HandleError::NoResponse)
            }
            Err(oneshot::error::TryRecvError::Empty) => {
                // The guest still holds the outparam (its state is not to be trusted for another
                // request): drop the instance, and with it the sender.
                inner.replace(Some(worker), permit);
                inner.ctx.log.runtime_line(format!("Error R10 (Application error) -> {}, instance discarded", HandleError::NoResponse));
                Err(HandleError::NoResponse)
            }
        }
    }

    /// Makes the dyno's ready instances now ([`DynoSpec::ready`]: instantiated, not yet used),
    /// so the first requests find them. Stops early, without an error, while the app's
    /// instances take all its slots (the first request then waits for one).
    pub async fn prewarm(&self) -> Result<(), HandleError> {
        self.0.fill(true).await
    }

    /// Stops the dyno: new requests get [`HandleError::Stopped`], running ones get up to `grace`
    /// to finish, idle instances are dropped and the scratch directory (`/tmp`) is wiped.
    pub async fn stop(&self, grace: Duration) {
        let inner = &self.0;
        inner.stopped.store(true, Ordering::Release);
        let _ = tokio::time::timeout(grace, inner.permits.all_back()).await;
        inner.permits.close();
        inner.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
        inner.ctx.wipe_scratch();
    }
}

impl Inner {
    /// Gives back an instance whose call went well, with its request's concurrency permit: in
    /// reuse mode it goes back among the idle ones, unless it has served its
    /// [`DynoSpec::max_requests`]; a fresh-mode instance (one request each) or a retired one is
    /// replaced ([`Inner::replace`]).
    fn give_back(self: &Arc<Self>, worker: Worker, permit: Permit) {
        if self.reuse && worker.served < self.max_requests {
            self.put_idle(worker, None);
            drop(permit);
        } else {
            self.replace(Some(worker), permit);
        }
    }

    /// Drops a used-up instance (if the call still had one) and makes the next ready one, in a
    /// task of its own: off the response's path (dropping a store and instantiating take longer
    /// than a hello-world request). The permit goes when the instance has gone.
    fn replace(self: &Arc<Self>, worker: Option<Worker>, permit: Permit) {
        let this = self.clone();
        drop(self.ctx.runtime.spawn_guest(&self.ctx.cpu, async move {
            drop(worker);
            drop(permit);
            this.refill().await;
        }));
    }

    /// Adds an instance to the idle ones, unless the dyno stopped (checked under the lock that
    /// `stop` clears them under, so none is left behind). A ready instance just made stops
    /// counting as being made (`making`) in the same step as it starts counting as idle.
    fn put_idle(&self, worker: Worker, making: Option<Making<'_>>) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        drop(making);
        if self.stopped.load(Ordering::Acquire) {
            return;
        }
        idle.push(worker);
        drop(idle);
        self.wake_waiter();
    }

    /// Wakes a request waiting in [`Inner::take_idle`], if there is one: `notify_one` with
    /// nobody waiting stores a wake-up (a write to a line both threads use, on every request).
    /// A request that starts to wait after the count was read finds the instance (or the lower
    /// `finishing`) on its own: it counts itself before it looks (both sides sequentially
    /// consistent).
    fn wake_waiter(&self) {
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.returned.notify_one();
        }
    }

    fn pop_idle(&self) -> Option<Worker> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    fn idle_len(&self) -> usize {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// An idle instance for the next request, if any. In reuse mode, when none is idle but one
    /// is finishing a call whose response already went out, waits up to [`FINISHING_WAIT`] for
    /// it rather than making another.
    async fn take_idle(&self) -> Option<Worker> {
        if let Some(worker) = self.pop_idle() {
            return Some(worker);
        }
        if !self.reuse || self.finishing.load(Ordering::SeqCst) <= 0 {
            return None;
        }
        /// Counts a waiting request for as long as it waits.
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.waiting);
        let deadline = tokio::time::Instant::now() + FINISHING_WAIT;
        loop {
            let notified = self.returned.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(worker) = self.pop_idle() {
                return Some(worker);
            }
            if self.finishing.load(Ordering::SeqCst) <= 0 || tokio::time::Instant::now() >= deadline {
                return None;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.pop_idle();
            }
        }
    }

    /// Makes instances until [`DynoSpec::ready`] are idle: with free slots of the app and of the
    /// pool only (a ready instance never pushes out another's), and quietly (a failure shows on
    /// the request that next instantiates).
    async fn refill(&self) {
        let _ = self.fill(false).await;
    }

    /// Makes instances until [`DynoSpec::ready`] are idle, with free slots of the app only (never
    /// by dropping the app's idle instances, which may be this dyno's own ready ones: a dyno whose
    /// app had fewer slots than `ready` made and dropped instances without end), making room in
    /// the pool by dropping other dynos' idle instances only if `evict`.
    async fn fill(&self, evict: bool) -> Result<(), HandleError> {
        while let Some(making) = self.reserve_ready() {
            let Ok(slot) = self.ctx.share.slots.clone().try_acquire_owned() else { return Ok(()) };
            let worker = self.instantiate_with(slot, evict).await?;
            self.put_idle(worker, Some(making));
        }
        Ok(())
    }

    /// Counts one more ready instance to be made, unless the idle ones and those being made
    /// are `ready` already (or the dyno stopped). Under the idle lock: two fills at once never
    /// make more than `ready` between them.
    fn reserve_ready(&self) -> Option<Making<'_>> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if self.stopped.load(Ordering::Acquire) || idle.len() + self.making.load(Ordering::Relaxed) >= self.ready {
            return None;
        }
        self.making.fetch_add(1, Ordering::Relaxed);
        Some(Making(&self.making))
    }

    /// A new instance in `slot` (of the app's share); when the pool is full, idle instances of
    /// the least recently used dynos (this one included) are dropped until it fits or none is left.
    async fn instantiate(&self, slot: Slot) -> Result<Worker, HandleError> {
        self.instantiate_with(slot, true).await
    }

    /// [`Inner::instantiate`], dropping others' idle instances when the pool is full only if `evict`.
    async fn instantiate_with(&self, slot: Slot, evict: bool) -> Result<Worker, HandleError> {
        let timeout = self.ctx.limits.request_timeout;
        loop {
            let mut store =
                self.ctx.new_store(&[], Stdin::Empty, Some(timeout)).map_err(HandleError::Instantiate)?;
            match self.pre.instantiate_async(&mut store).await {
                Ok(proxy) => {
                    self.instances.fetch_add(1, Ordering::Relaxed);
                    return Ok(Worker { store, proxy, _slot: slot, served: 0 });
                }
                Err(e) if evict && is_pool_full(&e) && self.ctx.runtime.release_idle_instance() => continue,
                Err(e) => {
                    return Err(match classify(&e, &self.ctx.limits) {
                        HandleError::Trap(detail) => HandleError::Instantiate(detail),
                        other => other,
                    });
                }
            }
        }
    }
}

impl IdleInstances for Inner {
    fn app(&self) -> &str {
        &self.ctx.log.app
    }

    fn last_used(&self) -> u64 {
        self.last_used.load(Ordering::Relaxed)
    }

    fn release_one(&self) -> bool {
        self.pop_idle().is_some()
    }
}

/// Classifies a guest failure and logs it on the dyno's `runtime` stream.
fn trap(inner: &Inner, e: &wasmtime::Error) -> HandleError {
    let err = classify(e, &inner.ctx.limits);
    match &err {
        HandleError::Timeout(_) => inner
            .ctx
            .log
            .runtime_line(format!("Error R12 (Request timeout) -> request exceeded {:?}, instance discarded", inner.ctx.limits.request_timeout)),
        HandleError::MemoryExceeded { .. } | HandleError::AppMemoryExceeded { .. } => {
            inner.ctx.log.runtime_line(format!("{err}, instance discarded"))
        }
        other => inner.ctx.log.runtime_line(format!("Error R10 (Application error) -> {other}, instance discarded")),
    }
    err
}

/// `call`'s output, or `None` once `deadline` passes. The timer is made only when the call
/// waits: most end within their first poll, and a tokio timer registered and taken out again
/// for each of them took about 0.6% of the server's CPU.
async fn until<F: std::future::Future>(deadline: Instant, call: F) -> Option<F::Output> {
    let mut call = std::pin::pin!(call);
    let mut timer = std::pin::pin!(None::<tokio::time::Sleep>);
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(output) = call.as_mut().poll(cx) {
            return std::task::Poll::Ready(Some(output));
        }
        if timer.is_none() {
            timer.set(Some(tokio::time::sleep_until(deadline.into())));
        }
        let expired = timer.as_mut().as_pin_mut().is_some_and(|timer| timer.poll(cx).is_ready());
        if expired { std::task::Poll::Ready(None) } else { std::task::Poll::Pending }
    })
    .await
}

/// A trap caused by the epoch deadline is a timeout, one caused by the memory limit
/// (`StoreLimits` with `trap_on_grow_failure`) a memory error; anything else an application error.
pub(crate) fn classify(e: &wasmtime::Error, limits: &crate::limits::Limits) -> HandleError {
    if matches!(e.downcast_ref::<wasmtime::Trap>(), Some(wasmtime::Trap::Interrupt)) {
        return HandleError::Timeout(limits.request_timeout);
    }
    if let Some(over) = e.downcast_ref::<crate::limits::AppMemoryExceeded>() {
        return HandleError::AppMemoryExceeded { limit_bytes: over.limit_bytes };
    }
    let detail = chain(e);
    if detail.contains("forcing trap when growing memory") {
        HandleError::MemoryExceeded { limit_bytes: limits.memory_bytes }
    } else {
        HandleError::Trap(detail)
    }
}

/// The response sent for a request the guest could not answer.
pub fn error_response(e: &HandleError) -> hyper::Response<ResponseBody> {
    let body = http_body_util::Full::new(Bytes::from(format!("{e}\n"))).map_err(|never| match never {}).boxed_unsync();
    let mut resp = hyper::Response::new(body);
    *resp.status_mut() = e.status();
    resp.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}
