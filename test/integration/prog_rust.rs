// SPDX-License-Identifier: MIT
// Known allocations of a Rust program on the system allocator, for rust.sh:
// keep_buffers keeps 7 buffers of 1000 bytes and their 7-slot vector (7 * 24
// bytes), churn allocates 5 strings of 200 bytes and frees them, and
// Table::fill (a method, its name nested in a type) keeps 3 boxes of 64
// bytes. Each allocation's line ends with a "line:" marker.
use std::hint::black_box;

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
    for i in 0..n {
        let s = String::with_capacity(200 + i * 0); // line:churn
        total += black_box(s).capacity();
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
    let kept = black_box(keep_buffers(black_box(7), black_box(1000)));
    let total = churn(black_box(5));
    let mut t = Table { rows: Vec::with_capacity(3) }; // line:table
    t.fill(black_box(3));
    println!("kept {} churned {} rows {}", kept.len(), total, t.rows.len());
    std::mem::forget(kept);
    std::mem::forget(t);
}
