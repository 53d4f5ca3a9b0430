//! The checker's hash maps and sets, with foldhash's fast hasher in place of SipHash: the
//! keys are names from the project's own files, so HashDoS resistance buys nothing here, and
//! on a 20,000-feature project SipHash was 15 % of `ast_to_hir`.

/// A hash map with the fast hasher (`HashMap::default()` makes one).
pub type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// A hash set with the fast hasher.
pub type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
/// An insertion-ordered map with the fast hasher.
pub type IndexMap<K, V> = indexmap::IndexMap<K, V, foldhash::fast::RandomState>;
