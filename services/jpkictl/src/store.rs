//! `jpkictl store`: maintenance of a single-node gateway's store, with the gateway stopped.

use std::path::PathBuf;

use anyhow::Context;

/// `store` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum StoreCommand {
    /// Move a data directory's redb store (`store.redb`, the engine before the journal) into a new
    /// journal (`store.journal`), and rename the redb file to `store.redb.imported`. The gateway
    /// must be stopped; an existing journal is never overwritten.
    ImportRedb {
        /// The gateway's `data_dir`.
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
    },
}

/// Runs a `store` subcommand; returns the exit code.
pub fn run(command: &StoreCommand) -> anyhow::Result<i32> {
    match command {
        StoreCommand::ImportRedb { data_dir } => {
            let (redb, journal) = (data_dir.join("store.redb"), data_dir.join("store.journal"));
            anyhow::ensure!(redb.exists(), "{}: no redb store to import", redb.display());
            let items = jpki_store::import_redb(&redb, &journal)
                .map_err(|error| anyhow::anyhow!("importing {}: {error}", redb.display()))?;
            let kept = data_dir.join("store.redb.imported");
            std::fs::rename(&redb, &kept).with_context(|| format!("renaming {}", redb.display()))?;
            println!("imported {items} items into {}; the redb file is kept as {}", journal.display(), kept.display());
            Ok(0)
        }
    }
}
