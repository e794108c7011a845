//! Streams a large CRL: `cargo run --release -p jpki-testpki --example large_crl -- OUT.crl N`.

use std::fs::File;
use std::io::BufWriter;
use std::time::Instant;

use jpki_testpki::{CertKind, TestPki, write_large_crl};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().ok_or("usage: large_crl OUT.crl N")?;
    let n: u64 = args.next().ok_or("usage: large_crl OUT.crl N")?.parse()?;
    let pki = TestPki::generate(42)?;
    let ca = pki.ca(CertKind::SigningCard, 2).ok_or("no CA")?;
    let t = Instant::now();
    let info = write_large_crl(ca, n, BufWriter::new(File::create(&out)?))?;
    println!("{} entries, {} bytes in {:?}", info.entry_count, info.total_len, t.elapsed());
    Ok(())
}
