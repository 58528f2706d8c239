//! The migrations each backend runs: its own first (the log's tables and the
//! first read models, whose SQL differs), then those both share, written
//! once in `migrations/shared/`. A migration that truly differs between the
//! backends goes in both backend folders under one version; any other goes
//! in `shared/`. Versions are one sequence across the three folders, and an
//! applied migration is never edited (its checksum is checked on start).

use sqlx::migrate::Migrator;

static SQLITE: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("../migrations/postgres");
static SHARED: Migrator = sqlx::migrate!("../migrations/shared");

pub(crate) fn sqlite() -> Migrator {
    with_shared(&SQLITE)
}

pub(crate) fn postgres() -> Migrator {
    with_shared(&POSTGRES)
}

fn with_shared(own: &Migrator) -> Migrator {
    Migrator::with_migrations(own.iter().chain(SHARED.iter()).cloned().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_run_in_one_sequence_without_a_gap_or_a_repeat() {
        for migrator in [sqlite(), postgres()] {
            let versions: Vec<i64> = migrator.iter().map(|m| m.version).collect();
            let expected: Vec<i64> = (1..=versions.len() as i64).collect();
            assert_eq!(versions, expected);
        }
    }
}
