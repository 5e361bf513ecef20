//! Instance slots per app: every instance an app holds (running a request, idle for reuse, a
//! worker's or one-off's) takes one of the app's slots, at most
//! [`crate::RuntimeConfig::max_instances_per_app`] of the pool's. A flooded app waits for its
//! own slots (and gives back its own idle instances first) instead of taking the pool from the
//! others.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Default [`crate::RuntimeConfig::max_instances_per_app`]: a tenth of the default pool (1,000),
/// so it takes ten apps flooded at once to fill it. Each web dyno runs at most 16 requests at
/// once, so an app needs seven busy web dynos to reach it.
pub const MAX_INSTANCES_PER_APP: u32 = 100;

/// The slots of every app with a running dyno (weak: an app whose dynos all stopped is forgotten).
pub(crate) struct AppSlots {
    per_app: usize,
    apps: Mutex<HashMap<String, Weak<Semaphore>>>,
}

/// One instance's hold on a slot of its app; dropping it gives the slot back.
pub(crate) type Slot = OwnedSemaphorePermit;

impl AppSlots {
    pub fn new(per_app: u32) -> AppSlots {
        AppSlots { per_app: usize::try_from(per_app.max(1)).unwrap_or(usize::MAX), apps: Mutex::default() }
    }

    /// The slots of `app`, shared by all its dynos.
    pub fn of(&self, app: &str) -> Arc<Semaphore> {
        let mut apps = self.apps.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slots) = apps.get(app).and_then(Weak::upgrade) {
            return slots;
        }
        // Forget apps that stopped before the map would grow.
        if apps.len() == apps.capacity() {
            apps.retain(|_, slots| slots.strong_count() > 0);
        }
        let slots = Arc::new(Semaphore::new(self.per_app));
        apps.insert(app.to_string(), Arc::downgrade(&slots));
        slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynos_of_one_app_share_its_slots_and_other_apps_have_their_own() {
        let slots = AppSlots::new(2);
        let (a1, a2, b) = (slots.of("a"), slots.of("a"), slots.of("b"));
        let _held = (a1.clone().try_acquire_many_owned(2).unwrap(), b.clone().try_acquire_owned().unwrap());
        assert!(a2.try_acquire().is_err(), "the app's second dyno got a third slot");
        assert_eq!(b.available_permits(), 1);
        drop((a1, a2, b, _held));
        assert_eq!(slots.of("a").available_permits(), 2, "a stopped app's slots are forgotten");
    }
}
