//! Build script: rebuild when a migration is added or changed, because
//! `sqlx::migrate!` embeds the `migrations/` folders at compile time and
//! cargo would not notice a new file there otherwise.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
