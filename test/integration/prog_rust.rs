// SPDX-License-Identifier: MIT
// Known allocations of a Rust program on the system allocator, for rust.sh:
// keep_buffers keeps 7 buffers of 1000 bytes and their 7-slot vector (7 * 24
// bytes), churn allocates 5 buffers of 200 bytes and frees them, and
// Table::fill (a method, its name nested in a type) keeps 3 boxes of 64
// bytes in a vector of 3 (24 bytes) made by main. Each allocation's line ends
// with a "line:" marker. Volatile reads and writes keep the optimizer from
// removing allocations (std::hint::black_box is newer than Debian 12's rustc).
use std::ptr::{read_volatile, write_volatile};

#[inline(never)]
fn opaque(n: usize) -> usize {
    unsafe { read_volatile(&n) }
}

#[inline(never)]
fn keep_buffers(n: usize, size: usize) -> Vec<Vec<u8>> {
    let mut v = Vec::with_capacity(n); // line:outer
    for _ in 0..n {
        v.push(vec![7u8; size]); // line:buffer
    }
    v
}

#[inline(never)]
fn churn(n: usize) -> usize {
    let mut total = 0;
    for _ in 0..n {
        let mut b: Vec<u8> = Vec::with_capacity(opaque(200)); // line:churn
        unsafe { write_volatile(b.as_mut_ptr(), 1) };
        total += b.capacity();
    }
    total
}

struct Table {
    rows: Vec<Box<[u8; 64]>>,
}

impl Table {
    #[inline(never)]
    fn fill(&mut self, n: usize) {
        for _ in 0..n {
            self.rows.push(Box::new([1u8; 64])); // line:box
        }
    }
}

fn main() {
    let kept = keep_buffers(opaque(7), opaque(1000));
    let total = churn(opaque(5));
    let mut t = Table { rows: Vec::with_capacity(opaque(3)) }; // line:table
    t.fill(opaque(3));
    let mut sum = 0usize;
    for b in &kept {
        sum += unsafe { read_volatile(&b[999]) } as usize;
    }
    for r in &t.rows {
        sum += unsafe { read_volatile(&r[63]) } as usize;
    }
    println!("kept {} churned {} rows {} sum {}", kept.len(), total, t.rows.len(), sum);
    std::mem::forget(kept);
    std::mem::forget(t);
}
