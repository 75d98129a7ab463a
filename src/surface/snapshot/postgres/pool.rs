//! Row buffers reused from one table to the next.
//!
//! A table read in page ranges holds its ranges' COPY text until the last
//! one is read, then sorts and hashes it and lets the buffers go. A fresh
//! buffer costs a page fault per 4 KiB the first time each page is written
//! (the kernel zeroes it): on the 20-table benchmark database that was
//! 42,000 faults, a twentieth of the whole snapshot's CPU. So a table's
//! buffers go back to this pool when it is hashed, and the next ranges
//! take them, already mapped, instead of asking the allocator for new ones.
//!
//! The pool only keeps buffers that were in use together a moment before,
//! so it never raises the snapshot's peak memory; it keeps at most
//! [`POOL_BUFFERS`] buffers and [`POOL_BYTES`] bytes of capacity, and
//! frees the rest.

use std::sync::Mutex;

/// The most buffers the pool keeps.
pub const POOL_BUFFERS: usize = 64;
/// The most capacity, in bytes, the pool keeps.
pub const POOL_BYTES: usize = 512 << 20;

/// Spare, empty row buffers (see the module documentation).
#[derive(Default)]
pub struct BufferPool {
    spare: Mutex<Vec<Vec<u8>>>,
}

impl BufferPool {
    /// An empty buffer with room for at least `capacity` bytes: the
    /// smallest spare one that has it, else the largest spare one grown to
    /// it, else a new one.
    pub fn take(&self, capacity: usize) -> Vec<u8> {
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        let fits = spare
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= capacity)
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, _)| i);
        let largest = || {
            spare
                .iter()
                .enumerate()
                .max_by_key(|(_, b)| b.capacity())
                .map(|(i, _)| i)
        };
        let Some(i) = fits.or_else(largest) else {
            return Vec::with_capacity(capacity);
        };
        let mut buffer = spare.swap_remove(i);
        drop(spare);
        buffer.reserve(capacity);
        buffer
    }

    /// Gives buffers back (emptied here); those beyond the pool's bounds
    /// are freed.
    pub fn give(&self, buffers: impl IntoIterator<Item = Vec<u8>>) {
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        let mut bytes: usize = spare.iter().map(Vec::capacity).sum();
        for mut b in buffers {
            if spare.len() >= POOL_BUFFERS || bytes + b.capacity() > POOL_BYTES {
                continue;
            }
            b.clear();
            bytes += b.capacity();
            spare.push(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_empty_and_big_enough() {
        let pool = BufferPool::default();
        let mut a = pool.take(100);
        assert!(a.capacity() >= 100);
        a.extend_from_slice(b"rows\n");
        let b = Vec::with_capacity(10_000);
        pool.give([a, b]);
        // The smallest that fits.
        let c = pool.take(50);
        assert!(c.is_empty() && c.capacity() >= 50 && c.capacity() < 10_000);
        // None fits: the largest, grown.
        let d = pool.take(20_000);
        assert!(d.is_empty() && d.capacity() >= 20_000);
        assert!(pool.spare.lock().unwrap().is_empty());
    }

    #[test]
    fn the_pool_keeps_within_its_bounds() {
        let pool = BufferPool::default();
        pool.give((0..POOL_BUFFERS + 10).map(|_| Vec::with_capacity(16)));
        assert_eq!(pool.spare.lock().unwrap().len(), POOL_BUFFERS);
        let pool = BufferPool::default();
        pool.give([Vec::with_capacity(POOL_BYTES + 1)]);
        assert!(pool.spare.lock().unwrap().is_empty());
    }
}
