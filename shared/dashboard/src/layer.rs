//! [`community_layer`]: a frame's communities as an RGBA image the size of the frame, each
//! pixel in its community's colour and unlabelled pixels transparent, for the page to lay
//! over the frame at any opacity. (The publisher's overlay PNG has its legend beside the
//! frame, so it cannot be laid over it; it stays a download.)

use tessera_imaging::NO_LABEL_U16;

/// RGBA pixels (`labels.len() × 4` bytes) for a label map: label `id` takes the colour
/// `colors` gives it, opaque; [`NO_LABEL_U16`] and labels without a colour are transparent.
pub(crate) fn community_layer(labels: &[u16], colors: &[(u32, [u8; 3])]) -> Vec<u8> {
    let mut lut = vec![[0u8; 4]; usize::from(u16::MAX) + 1];
    for &(id, [r, g, b]) in colors {
        if let Ok(id) = u16::try_from(id)
            && id != NO_LABEL_U16
        {
            lut[usize::from(id)] = [r, g, b, 255];
        }
    }
    labels.iter().flat_map(|&l| lut[usize::from(l)]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_take_their_colours_and_the_rest_is_transparent() {
        let rgba = community_layer(&[0, 2, NO_LABEL_U16, 7], &[(0, [1, 2, 3]), (2, [9, 8, 7])]);
        assert_eq!(
            rgba,
            [1, 2, 3, 255, 9, 8, 7, 255, 0, 0, 0, 0, 0, 0, 0, 0].to_vec()
        );
    }
}
