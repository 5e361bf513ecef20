//! Delivering events to webhooks: [`Outbox`] keeps each app's recent events and deliveries (in
//! memory, [`KEPT`] of each) and sends every delivery in a task of its own: a `POST` of the
//! payload signed with the webhook's secret (`Heroku-Webhook-Hmac-SHA256`: base64 of
//! HMAC-SHA256 over the body). As Heroku's, a `notify` webhook gets one attempt; a `sync` one is
//! retried after a failure with a doubling back-off ([`FIRST_BACKOFF`] up to [`MAX_BACKOFF`],
//! [`MAX_ATTEMPTS`] in all). At most [`MAX_PENDING`]
//! deliveries of an app wait at once; past that a delivery fails at once ("queue full").
//!
//! A webhook goes only where log drains may: its URL's address literal is checked by the
//! node's egress policy at creation and before each attempt, a name is resolved by the drains'
//! [`CheckedResolver`] (every address checked, the connection made to those), no redirect is
//! followed and no proxy used. A refusal fails the delivery without retries.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use paas_sandbox::egress::EgressPolicy;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Event, Webhook};
use crate::api::views::time;
use crate::ledger::Ledger;
use crate::logplex::Logplex;
use crate::logplex::drains::Endpoint;
use crate::logplex::drains::http::CheckedResolver;

/// Events and deliveries kept per app.
pub const KEPT: usize = 100;
/// Deliveries of one app waiting (being tried or retried) at most.
pub const MAX_PENDING: usize = 100;
/// Attempts per delivery to a `sync` webhook (a `notify` one gets one).
pub const MAX_ATTEMPTS: u32 = 8;
/// The wait after a first failed attempt; it doubles on each failure.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How long one attempt may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// One attempt of a delivery, as Heroku's `last_attempt`.
#[derive(Debug, Clone)]
struct Attempt {
    id: Uuid,
    code: Option<u16>,
    error_class: Option<String>,
    status: &'static str,
    at: DateTime<Utc>,
}

/// A delivery of one event to one webhook.
#[derive(Debug, Clone)]
struct Delivery {
    id: Uuid,
    event: (Uuid, &'static str),
    webhook: (Uuid, String),
    status: &'static str,
    num_attempts: u32,
    next_attempt_at: Option<DateTime<Utc>>,
    last_attempt: Option<Attempt>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Delivery {
    fn view(&self) -> Value {
        json!({
            "id": self.id,
            "event": {"id": self.event.0, "include": self.event.1},
            "webhook": {"id": self.webhook.0, "level": self.webhook.1},
            "status": self.status,
            "num_attempts": self.num_attempts,
            "next_attempt_at": self.next_attempt_at.map(time),
            "last_attempt": self.last_attempt.as_ref().map(|a| json!({
                "id": a.id,
                "code": a.code,
                "error_class": a.error_class,
                "status": a.status,
                "created_at": time(a.at),
                "updated_at": time(a.at),
            })),
            "created_at": time(self.created_at),
            "updated_at": time(self.updated_at),
        })
    }
}

#[derive(Debug, Default)]
struct AppRecords {
    events: VecDeque<Value>,
    deliveries: VecDeque<Delivery>,
    pending: usize,
}

/// Each app's recent webhook events and deliveries, and its deliveries under way.
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    apps: Arc<Mutex<HashMap<Uuid, AppRecords>>>,
}

impl Outbox {
    /// The app's recent events, as `GET /apps/{app}/webhook-events` shows them (oldest first).
    pub fn events(&self, app_id: Uuid) -> Vec<Value> {
        self.with(app_id, |records| records.events.iter().cloned().collect())
    }

    /// The app's recent deliveries, as `GET /apps/{app}/webhook-deliveries` shows them.
    pub fn deliveries(&self, app_id: Uuid) -> Vec<Value> {
        self.with(app_id, |records| records.deliveries.iter().map(Delivery::view).collect())
    }

    /// Forgets a destroyed app's records.
    pub fn forget(&self, app_id: Uuid) {
        self.apps.lock().expect("webhooks").remove(&app_id);
    }

    fn with<T>(&self, app_id: Uuid, f: impl FnOnce(&mut AppRecords) -> T) -> T {
        f(self.apps.lock().expect("webhooks").entry(app_id).or_default())
    }

    /// Changes the app's records if it still has some: a destroyed app's ([`Outbox::forget`])
    /// are not made again by a delivery still under way.
    fn with_existing(&self, app_id: Uuid, f: impl FnOnce(&mut AppRecords)) {
        if let Some(records) = self.apps.lock().expect("webhooks").get_mut(&app_id) {
            f(records);
        }
    }

    fn update(&self, app_id: Uuid, id: Uuid, f: impl FnOnce(&mut Delivery)) {
        self.with_existing(app_id, |records| {
            if let Some(delivery) = records.deliveries.iter_mut().find(|d| d.id == id) {
                f(delivery);
                delivery.updated_at = Utc::now();
            }
        });
    }

    /// Records a delivery; `false` (recorded as failed) when the app has [`MAX_PENDING`] waiting.
    fn enqueue(&self, app_id: Uuid, delivery: Delivery) -> bool {
        self.with(app_id, |records| {
            let admitted = records.pending < MAX_PENDING;
            let mut delivery = delivery;
            if admitted {
                records.pending += 1;
            } else {
                delivery.status = "failed";
                delivery.last_attempt = Some(Attempt {
                    id: Uuid::new_v4(),
                    code: None,
                    error_class: Some("queue full".into()),
                    status: "failed",
                    at: Utc::now(),
                });
            }
            push_bounded(&mut records.deliveries, delivery);
            admitted
        })
    }
}

fn push_bounded<T>(queue: &mut VecDeque<T>, item: T) {
    queue.push_back(item);
    while queue.len() > KEPT {
        queue.pop_front();
    }
}

/// `Heroku-Webhook-Hmac-SHA256`: base64 of HMAC-SHA256 of `body` keyed by `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(crate::addons::postgres::hmac_sha256(secret.as_bytes(), body))
}

impl Logplex {
    /// Sends `event` to each of its app's webhooks that includes its kind (in the background:
    /// never waits). Needs a Tokio runtime; without one nothing is sent.
    pub fn webhook_event(&self, ledger: Arc<dyn Ledger>, event: Event) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let outbox = self.webhooks().clone();
        let egress = self.drain_policy().egress.clone();
        runtime.spawn(async move {
            if let Err(e) = dispatch(&outbox, &ledger, egress, event).await {
                tracing::warn!("webhook event not sent: {e}");
            }
        });
    }
}

async fn dispatch(outbox: &Outbox, ledger: &Arc<dyn Ledger>, egress: Arc<EgressPolicy>, event: Event) -> Result<(), crate::LedgerError> {
    let hooks: Vec<Webhook> =
        ledger.list_webhooks(event.app_id).await?.into_iter().filter(|hook| hook.include.iter().any(|k| k == event.include)).collect();
    if hooks.is_empty() {
        return Ok(());
    }
    let Some(app) = ledger.find_app(&event.app_id.to_string()).await? else { return Ok(()) };
    let actor = match ledger.find_user(&event.actor).await? {
        Some(user) => json!({"id": user.id, "email": user.email}),
        None => json!({"id": null, "email": event.actor}),
    };
    let payload = event.payload(&app, actor);
    let at = time(event.created_at);
    let shown = json!({
        "id": event.id,
        "include": event.include,
        "payload": {
            "action": payload["action"],
            "actor": payload["actor"],
            "data": payload["data"],
            "previous_data": payload["previous_data"],
            "published_at": payload["published_at"],
            "resource": payload["resource"],
            "version": payload["version"],
        },
        "created_at": at,
        "updated_at": at,
    });
    outbox.with(app.id, |records| push_bounded(&mut records.events, shown));
    for hook in hooks {
        let now = Utc::now();
        let delivery = Delivery {
            id: Uuid::new_v4(),
            event: (event.id, event.include),
            webhook: (hook.id, hook.level.clone()),
            status: "pending",
            num_attempts: 0,
            next_attempt_at: Some(now),
            last_attempt: None,
            created_at: now,
            updated_at: now,
        };
        let id = delivery.id;
        if outbox.enqueue(app.id, delivery) {
            let (outbox, ledger, egress, payload) = (outbox.clone(), ledger.clone(), egress.clone(), payload.clone());
            tokio::spawn(async move {
                deliver(&outbox, ledger.as_ref(), egress, &hook, id, (event.id, event.include), payload).await;
                outbox.with_existing(hook.app_id, |records| records.pending = records.pending.saturating_sub(1));
            });
        }
    }
    Ok(())
}

/// Why an attempt failed.
enum Failure {
    /// The egress policy refused the target: no retry.
    Denied(String),
    /// The endpoint answered this status, or did not answer (retried).
    Failed(Option<u16>, String),
}

/// Tries the delivery until it succeeds, is refused, or runs out of attempts. The webhook is read
/// again before each attempt: one removed (or its app destroyed) or given another URL, secret
/// or Authorization since gets no more attempts, so nothing goes to the old URL or with the old
/// credentials.
async fn deliver(
    outbox: &Outbox,
    ledger: &dyn Ledger,
    egress: Arc<EgressPolicy>,
    hook: &Webhook,
    id: Uuid,
    event: (Uuid, &'static str),
    payload: Value,
) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .user_agent("paas-webhooks")
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(CheckedResolver(egress.clone())))
        .build();
    let mut backoff = FIRST_BACKOFF;
    let attempts = if hook.level == "sync" { MAX_ATTEMPTS } else { 1 };
    for attempt in 1..=attempts {
        let attempt_id = Uuid::new_v4();
        if let Some(why) = changed(ledger, hook).await {
            outbox.update(hook.app_id, id, |d| {
                d.status = "failed";
                d.next_attempt_at = None;
                d.last_attempt = Some(Attempt { id: attempt_id, code: None, error_class: Some(why), status: "failed", at: Utc::now() });
            });
            return;
        }
        let mut body = payload.clone();
        body["webhook_metadata"] = json!({
            "attempt": {"id": attempt_id},
            "delivery": {"id": id},
            "event": {"id": event.0, "include": event.1},
            "webhook": {"id": hook.id},
        });
        let result = match &client {
            Ok(client) => post(client, &egress, hook, id, body.to_string()).await,
            Err(e) => Err(Failure::Failed(None, format!("cannot set up the HTTP client: {e}"))),
        };
        let last = attempt == attempts;
        let (status, code, error, retry) = match result {
            Ok(code) => ("succeeded", Some(code), None, false),
            Err(Failure::Denied(why)) => ("failed", None, Some(why), false),
            Err(Failure::Failed(code, why)) => (if last { "failed" } else { "retrying" }, code, Some(why), !last),
        };
        let next = retry.then(|| Utc::now() + chrono::Duration::from_std(backoff).unwrap_or_default());
        outbox.update(hook.app_id, id, |d| {
            d.num_attempts = attempt;
            d.status = status;
            d.next_attempt_at = next;
            let attempt_status = if status == "succeeded" { "succeeded" } else { "failed" };
            d.last_attempt = Some(Attempt { id: attempt_id, code, error_class: error, status: attempt_status, at: Utc::now() });
        });
        if !retry {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Why the delivery must stop, if `hook` is gone from the ledger or sends elsewhere now.
async fn changed(ledger: &dyn Ledger, hook: &Webhook) -> Option<String> {
    match ledger.find_webhook(hook.app_id, hook.id).await {
        Ok(Some(now)) if (&now.url, &now.secret, &now.authorization) == (&hook.url, &hook.secret, &hook.authorization) => None,
        Ok(Some(_)) => Some("the webhook's URL, secret or authorization changed since this event: not sent with the old ones".into()),
        Ok(None) => Some("the webhook was removed".into()),
        Err(e) => {
            tracing::warn!("webhook {}: cannot read it again, so it is delivered as it was: {e}", hook.id);
            None
        }
    }
}

/// One attempt: the status code of a 2xx answer.
async fn post(client: &reqwest::Client, egress: &EgressPolicy, hook: &Webhook, id: Uuid, body: String) -> Result<u16, Failure> {
    let endpoint = Endpoint::Http { url: hook.url.clone() };
    if let Err(e) = endpoint.check(&super::shown_url(&hook.url), egress) {
        return Err(Failure::Denied(e.to_string()));
    }
    let mut request = client
        .post(&hook.url)
        .header("content-type", "application/json")
        .header("heroku-webhook-hmac-sha256", signature(&hook.secret, body.as_bytes()))
        .header("heroku-webhook-id", id.to_string());
    if let Some(authorization) = &hook.authorization {
        request = request.header("authorization", authorization);
    }
    let response = request.body(body).send().await.map_err(|e| {
        match crate::logplex::drains::http::egress_error(&e) {
            Some(egress) => Failure::Denied(crate::logplex::drains::DeliveryError::of_egress(egress).to_string()),
            // reqwest's message names the URL, userinfo and all: it is left out.
            None => Failure::Failed(None, format!("cannot deliver: {}", e.without_url())),
        }
    })?;
    let code = response.status().as_u16();
    if response.status().is_success() { Ok(code) } else { Err(Failure::Failed(Some(code), format!("the endpoint answered {}", response.status()))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery() -> Delivery {
        let now = Utc::now();
        Delivery {
            id: Uuid::new_v4(),
            event: (Uuid::new_v4(), "api:release"),
            webhook: (Uuid::new_v4(), "sync".into()),
            status: "pending",
            num_attempts: 0,
            next_attempt_at: None,
            last_attempt: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn an_apps_waiting_deliveries_are_bounded_and_its_records_kept_short() {
        let (outbox, app) = (Outbox::default(), Uuid::new_v4());
        for _ in 0..MAX_PENDING {
            assert!(outbox.enqueue(app, delivery()));
        }
        assert!(!outbox.enqueue(app, delivery()), "one past the bound is refused");
        let last = outbox.deliveries(app).pop().unwrap();
        assert_eq!((&last["status"], &last["last_attempt"]["error_class"]), (&json!("failed"), &json!("queue full")));
        assert_eq!(outbox.deliveries(app).len(), KEPT);
        assert!(outbox.enqueue(Uuid::new_v4(), delivery()), "another app has its own bound");
    }

    /// A ledger in a temporary folder holding one app with one webhook (`url`, `level` sync).
    async fn ledger_with_webhook(url: &str) -> (tempfile::TempDir, Arc<dyn Ledger>, Webhook) {
        let dir = tempfile::tempdir().unwrap();
        let ledger = crate::ledger::open(&crate::ledger::sqlite_url(dir.path())).await.unwrap();
        let (user, _) = ledger.create_user("alice@example.com", None, false).await.unwrap();
        let app = ledger.create_app("hooked", user.id).await.unwrap();
        let settings = crate::webhooks::WebhookSettings {
            url: Some(url.into()),
            secret: Some("s".into()),
            include: Some(vec!["api:release".into()]),
            level: Some("sync".into()),
            authorization: None,
        };
        let hook = ledger.add_webhook(app.id, settings).await.unwrap();
        (dir, ledger, hook)
    }

    #[tokio::test]
    async fn a_name_resolving_to_a_denied_address_fails_the_delivery_without_retries() {
        let (_dir, ledger, hook) = ledger_with_webhook("http://localhost:9/hook").await;
        let (outbox, app) = (Outbox::default(), hook.app_id);
        let sent = delivery();
        let id = sent.id;
        assert!(outbox.enqueue(app, sent));
        let started = std::time::Instant::now();
        deliver(&outbox, ledger.as_ref(), Arc::new(EgressPolicy::default()), &hook, id, (Uuid::new_v4(), "api:release"), json!({})).await;
        assert!(started.elapsed() < FIRST_BACKOFF, "no back-off: a refusal is not retried");
        let done = outbox.deliveries(app).pop().unwrap();
        assert_eq!((&done["status"], &done["num_attempts"]), (&json!("failed"), &json!(1)));
        let error = done["last_attempt"]["error_class"].as_str().unwrap();
        assert!(error.contains("localhost resolves to") && error.contains("denied (loopback)"), "{error}");
    }

    /// A delivery kept retrying with the webhook it was spawned with: one removed or pointed
    /// elsewhere still got the event at its old URL, with its old secret (review 4, finding 5).
    #[tokio::test]
    async fn a_removed_or_changed_webhook_gets_no_more_attempts() {
        let (_dir, ledger, hook) = ledger_with_webhook("http://127.0.0.1:9/old").await;
        let outbox = Outbox::default();
        let egress = Arc::new(EgressPolicy::default());
        let change = crate::webhooks::WebhookSettings { url: Some("http://127.0.0.1:9/new".into()), ..Default::default() };
        ledger.update_webhook(hook.app_id, hook.id, change).await.unwrap();
        for why in ["URL, secret or authorization changed", "was removed"] {
            let sent = delivery();
            let id = sent.id;
            assert!(outbox.enqueue(hook.app_id, sent));
            deliver(&outbox, ledger.as_ref(), egress.clone(), &hook, id, (Uuid::new_v4(), "api:release"), json!({})).await;
            let done = outbox.deliveries(hook.app_id).pop().unwrap();
            assert_eq!((&done["status"], &done["num_attempts"]), (&json!("failed"), &json!(0)), "{done}");
            assert!(done["last_attempt"]["error_class"].as_str().unwrap().contains(why), "{done}");
            ledger.remove_webhook(hook.app_id, hook.id).await.unwrap_or_else(|_| hook.clone());
        }
    }

    #[test]
    fn a_forgotten_apps_records_are_not_made_again_by_a_delivery_under_way() {
        let (outbox, app) = (Outbox::default(), Uuid::new_v4());
        let sent = delivery();
        let id = sent.id;
        assert!(outbox.enqueue(app, sent));
        outbox.forget(app);
        outbox.update(app, id, |d| d.status = "failed");
        outbox.with_existing(app, |records| records.pending = records.pending.saturating_sub(1));
        assert!(!outbox.apps.lock().unwrap().contains_key(&app), "the destroyed app's records came back");
    }

    #[test]
    fn the_signature_is_base64_of_hmac_sha256() {
        // RFC 4231 test case 2, base64.
        assert_eq!(signature("Jefe", b"what do ya want for nothing?"), "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
    }
}
