//! Writes the default test PKI: `cargo run -p jpki-testpki --example write_pki -- DIR [SEED]`.

use std::time::Instant;

use jpki_testpki::{TestPki, WriteOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: write_pki DIR [SEED]")?;
    let seed: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(42);
    let t = Instant::now();
    let pki = TestPki::generate(seed)?;
    let generated = t.elapsed();
    pki.write_to(&dir, &WriteOptions::default())?;
    println!("seed {seed}: generated in {generated:?}, written to {dir} in {:?} total", t.elapsed());
    Ok(())
}
