//! Each app's share of the node: every instance an app holds (running a request, idle for
//! reuse, a worker's or one-off's) takes one of the app's instance slots, at most
//! [`crate::RuntimeConfig::max_instances_per_app`] of the pool's, and its linear memories count
//! against the app's memory, at most [`crate::RuntimeConfig::max_memory_per_app`]. A flooded app
//! waits for its own slots, and an app at its memory gives back its own idle instances first,
//! then traps the growing instance (R15), instead of taking the pool or the node's memory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Default [`crate::RuntimeConfig::max_instances_per_app`]: a tenth of the default pool (1,000),
/// so it takes ten apps flooded at once to fill it. Each web dyno runs at most 16 requests at
/// once, so an app needs seven busy web dynos to reach it.
pub const MAX_INSTANCES_PER_APP: u32 = 100;

/// Default [`crate::RuntimeConfig::max_memory_per_app`]: 4 GiB of linear memory over all of an
/// app's instances (two `performance` instances, 32 `basic` ones at their limit).
pub const MAX_MEMORY_PER_APP: usize = 4 << 30;

/// One app's share: its instance slots and the linear memory its instances hold.
pub(crate) struct AppShare {
    /// The app's instance slots.
    pub slots: Arc<Semaphore>,
    slots_max: usize,
    memory: AtomicUsize,
    memory_max: usize,
}

impl AppShare {
    /// Takes `bytes` more of the app's memory; false (nothing taken) past its share.
    pub fn reserve(&self, bytes: usize) -> bool {
        self.memory
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| held.checked_add(bytes).filter(|&n| n <= self.memory_max))
            .is_ok()
    }

    /// Gives back `bytes` taken with [`AppShare::reserve`].
    pub fn release(&self, bytes: usize) {
        self.memory.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// Instance slots taken and linear memory held now, in bytes.
    pub fn usage(&self) -> (usize, usize) {
        (self.slots_max.saturating_sub(self.slots.available_permits()), self.memory.load(Ordering::Acquire))
    }

    /// The app's memory share, in bytes.
    pub fn memory_max(&self) -> usize {
        self.memory_max
    }
}

/// The shares of every app with a running dyno (weak: an app whose dynos all stopped is
/// forgotten).
pub(crate) struct AppSlots {
    per_app: usize,
    memory_per_app: usize,
    apps: Mutex<HashMap<String, Weak<AppShare>>>,
}

/// One instance's hold on a slot of its app; dropping it gives the slot back.
pub(crate) type Slot = OwnedSemaphorePermit;

impl AppSlots {
    pub fn new(per_app: u32, memory_per_app: usize) -> AppSlots {
        AppSlots { per_app: usize::try_from(per_app.max(1)).unwrap_or(usize::MAX), memory_per_app, apps: Mutex::default() }
    }

    /// The share of `app`, shared by all its dynos.
    pub fn of(&self, app: &str) -> Arc<AppShare> {
        let mut apps = self.apps.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slots) = apps.get(app).and_then(Weak::upgrade) {
            return slots;
        }
        // Forget apps that stopped before the map would grow.
        if apps.len() == apps.capacity() {
            apps.retain(|_, slots| slots.strong_count() > 0);
        }
        let share = Arc::new(AppShare {
            slots: Arc::new(Semaphore::new(self.per_app)),
            slots_max: self.per_app,
            memory: AtomicUsize::new(0),
            memory_max: self.memory_per_app,
        });
        apps.insert(app.to_string(), Arc::downgrade(&share));
        share
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynos_of_one_app_share_its_slots_and_other_apps_have_their_own() {
        let slots = AppSlots::new(2, 1000);
        let (a1, a2, b) = (slots.of("a").slots.clone(), slots.of("a").slots.clone(), slots.of("b").slots.clone());
        let _held = (a1.clone().try_acquire_many_owned(2).unwrap(), b.clone().try_acquire_owned().unwrap());
        assert!(a2.try_acquire().is_err(), "the app's second dyno got a third slot");
        assert_eq!(b.available_permits(), 1);
        drop((a1, a2, b, _held));
        assert_eq!(slots.of("a").slots.available_permits(), 2, "a stopped app's slots are forgotten");
    }

    #[test]
    fn an_apps_memory_is_reserved_up_to_its_share() {
        let slots = AppSlots::new(2, 1000);
        let a = slots.of("a");
        assert!(a.reserve(600));
        assert!(!a.reserve(600), "past the share");
        assert!(slots.of("b").reserve(600), "another app has its own");
        a.release(600);
        assert!(a.reserve(1000));
    }
}
