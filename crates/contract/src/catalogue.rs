//! The catalogue's own rules (both sides check them: the back office before serving, the
//! terminal before caching), and the demo catalogue shipped in the repository.

use crate::api::Catalogue;

/// The demo catalogue, compiled in so the embedded back office and the terminal's demos
/// and tests work from the binary alone.
pub const DEMO_CATALOGUE: &str = include_str!("../../../config/demo/catalogue.json");

/// Cross-checks a catalogue: unique codes, and every reference points at an existing item.
pub fn check(c: &Catalogue) -> Result<(), String> {
    let mut codes = std::collections::HashSet::new();
    for i in &c.items {
        if !codes.insert(i.code.as_str()) {
            return Err(format!("item code {} appears twice", i.code));
        }
    }
    for b in &c.bundles {
        if let Some(missing) = b.items.iter().find(|code| !codes.contains(code.as_str())) {
            return Err(format!("bundle {} lists unknown item {missing}", b.code));
        }
    }
    for f in &c.faqs {
        if let Some(missing) = f.items.iter().find(|code| !codes.contains(code.as_str())) {
            return Err(format!("FAQ {} refers to unknown item {missing}", f.id));
        }
    }
    Ok(())
}

/// The demo catalogue, parsed and checked.
pub fn demo() -> Result<Catalogue, String> {
    let c: Catalogue = serde_json::from_str(DEMO_CATALOGUE)
        .map_err(|e| format!("config/demo/catalogue.json: {e}"))?;
    check(&c).map_err(|e| format!("config/demo/catalogue.json: {e}"))?;
    Ok(c)
}
