//! Embeddings kept on disk between runs, keyed by the model digest and the chips' content,
//! so that a sweep embeds each image's chips once, ever.

use std::{
    collections::HashMap,
    hash::{DefaultHasher, Hash, Hasher},
    path::PathBuf,
    time::Instant,
};

use tessera_embedding::Encoder;
use tessera_tests::encoder;

/// Encoders by network side, and the folder of stored embeddings.
pub(crate) struct Embedder {
    model: String,
    encoders: HashMap<usize, Encoder>,
    dir: PathBuf,
}

impl Embedder {
    pub(crate) fn new(model: &str, dir: PathBuf) -> Embedder {
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        Embedder {
            model: model.into(),
            encoders: HashMap::new(),
            dir,
        }
    }

    /// Embeds `chips` of side `chip` at network side `chip`: the rows, their width, and the
    /// milliseconds the model took (when they were first computed).
    pub(crate) fn embed(&mut self, chips: &[f32], chip: usize) -> (Vec<f32>, usize, f64) {
        let model = self.model.clone();
        let enc = self
            .encoders
            .entry(chip)
            .or_insert_with(|| encoder(&model, chip));
        let dim = enc.embedding_dim();
        let mut h = DefaultHasher::new();
        (enc.digest(), chip).hash(&mut h);
        chips.iter().for_each(|v| v.to_bits().hash(&mut h));
        let path = self.dir.join(format!("{:016x}.f32", h.finish()));
        if let Ok(bytes) = std::fs::read(&path)
            && bytes.len() == 8 + chips.len() / (chip * chip) * dim * 4
        {
            let ms = f64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
            let rows = bytes[8..]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
                .collect();
            return (rows, dim, ms);
        }
        let start = Instant::now();
        let rows = enc.embed(chips, chip).expect("embedding chips");
        let ms = start.elapsed().as_secs_f64() * 1e3;
        let mut bytes = ms.to_le_bytes().to_vec();
        rows.iter().for_each(|v| bytes.extend(v.to_le_bytes()));
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        (rows, dim, ms)
    }
}
