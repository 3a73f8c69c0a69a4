//! Inline images (the parts a body refers to by `cid:`), shown inside the body as `data:` URIs: only
//! raster formats, which cannot carry script, and only when the size their header declares is
//! reasonable to decode.

use base64::Engine;

/// Largest picture inlined in a body, in pixels: a tiny compressed file can declare a huge image
/// that the browser would then try to decode.
pub const MAX_INLINE_PIXELS: u64 = 40_000_000;

/// A `data:` URI for an inline image: only PNG, GIF and JPEG (an SVG could carry script) whose
/// declared size is reasonable; `None` otherwise (the part stays a downloadable attachment).
pub fn inline_image_uri(content_type: &str, bytes: &[u8]) -> Option<String> {
    if !inlinable(content_type, bytes) {
        return None;
    }
    Some(format!(
        "data:{content_type};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

/// True for an image that may be shown inside a body (see [`inline_image_uri`]).
pub fn inlinable(content_type: &str, bytes: &[u8]) -> bool {
    matches!(content_type, "image/png" | "image/gif" | "image/jpeg")
        && image_dimensions(bytes)
            .is_some_and(|(w, h)| w > 0 && h > 0 && w * h <= MAX_INLINE_PIXELS)
}

/// Width and height a PNG, GIF or JPEG declares, read from its header.
fn image_dimensions(b: &[u8]) -> Option<(u64, u64)> {
    let be32 = |i: usize| -> Option<u64> {
        Some(u64::from(u32::from_be_bytes(
            b.get(i..i + 4)?.try_into().ok()?,
        )))
    };
    let be16 = |i: usize| -> Option<u64> {
        Some(u64::from(u16::from_be_bytes(
            b.get(i..i + 2)?.try_into().ok()?,
        )))
    };
    if b.starts_with(b"\x89PNG\r\n\x1a\n") && b.get(12..16) == Some(b"IHDR") {
        return Some((be32(16)?, be32(20)?));
    }
    if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        let le16 = |i: usize| {
            Some(u64::from(u16::from_le_bytes(
                b.get(i..i + 2)?.try_into().ok()?,
            )))
        };
        return Some((le16(6)?, le16(8)?));
    }
    if b.starts_with(&[0xFF, 0xD8]) {
        // Walk the segments to the first start-of-frame marker.
        let mut i = 2;
        while i + 4 <= b.len() {
            if b[i] != 0xFF {
                return None;
            }
            let marker = b[i + 1];
            if marker == 0xFF {
                i += 1;
                continue;
            }
            let len = be16(i + 2)? as usize;
            if (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
                return Some((be16(i + 7)?, be16(i + 5)?));
            }
            i += 2 + len;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_reasonable_raster_images_are_inlined() {
        let png = |w: u32, h: u32| {
            let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
            b.extend_from_slice(&w.to_be_bytes());
            b.extend_from_slice(&h.to_be_bytes());
            b.extend_from_slice(&[8, 2, 0, 0, 0]);
            b
        };
        assert!(
            inline_image_uri("image/png", &png(2, 2))
                .unwrap()
                .starts_with("data:image/png;base64,")
        );
        assert!(
            inline_image_uri("image/png", &png(20_000, 20_000)).is_none(),
            "decompression bomb"
        );
        assert!(inline_image_uri("image/svg+xml", b"<svg onload=alert(1)>").is_none());
        assert!(inline_image_uri("image/png", b"not a png").is_none());
        let gif = b"GIF89a\x10\x00\x20\x00rest";
        assert_eq!(image_dimensions(gif), Some((16, 32)));
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x01,
            0x40, 0x02, 0x80, 0x03,
        ];
        assert_eq!(image_dimensions(&jpeg), Some((640, 320)));
    }
}
