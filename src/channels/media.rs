//! Content-addressed media storage: a file is named by the SHA-256 of its bytes, so the same
//! picture received twice is stored once and a redelivered webhook rewrites nothing.

use std::path::Path;

use super::signature::sha256_hex;
use super::SendError;

/// Largest inbound media we keep (WhatsApp's own limit for documents is 100 MB).
pub const MAX_MEDIA_BYTES: usize = 100 * 1024 * 1024;

/// Writes `bytes` to `<media_dir>/<sha256>[.ext]` (atomically, via a temp file) unless it is
/// already there, and returns the file name, relative to `media_dir` (so stored rows survive
/// moving or restoring the data directory).
pub async fn store_media(
    media_dir: &Path,
    bytes: &[u8],
    mime_type: Option<&str>,
) -> Result<String, SendError> {
    let io = |e: std::io::Error| SendError::retriable(Some("media_io".into()), e.to_string());
    tokio::fs::create_dir_all(media_dir).await.map_err(io)?;
    let mut name = sha256_hex(bytes);
    if let Some(ext) = mime_type.and_then(extension_for) {
        name.push('.');
        name.push_str(ext);
    }
    let path = media_dir.join(&name);
    if tokio::fs::try_exists(&path).await.unwrap_or(false) {
        return Ok(name);
    }
    let tmp = media_dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4()));
    tokio::fs::write(&tmp, bytes).await.map_err(io)?;
    tokio::fs::rename(&tmp, &path).await.map_err(io)?;
    Ok(name)
}

fn extension_for(mime: &str) -> Option<&'static str> {
    let base = mime.split(';').next().unwrap_or(mime).trim();
    Some(match base {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "video/mp4" => "mp4",
        "video/3gpp" => "3gp",
        "audio/ogg" => "ogg",
        "audio/mpeg" => "mp3",
        "audio/mp4" | "audio/aac" => "m4a",
        "audio/amr" => "amr",
        "application/pdf" => "pdf",
        "text/plain" => "txt",
        _ => return None,
    })
}

/// Downloads a URL (with the given auth already applied) into the media dir.
pub(crate) async fn download(
    req: reqwest::RequestBuilder,
    media_dir: &Path,
    mime_hint: Option<&str>,
) -> Result<String, SendError> {
    let resp = req
        .send()
        .await
        .map_err(|e| SendError::from_transport(&e))?;
    let status = resp.status();
    if !status.is_success() {
        let msg = format!("media download answered {status}");
        return Err(if super::retriable_status(status) {
            SendError::retriable(Some(status.as_u16().to_string()), msg)
        } else {
            SendError::permanent(Some(status.as_u16().to_string()), msg)
        });
    }
    let mime = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| SendError::from_transport(&e))?;
    if bytes.len() > MAX_MEDIA_BYTES {
        return Err(SendError::permanent(
            Some("media_too_large".into()),
            format!("media of {} bytes is over the limit", bytes.len()),
        ));
    }
    store_media(media_dir, &bytes, mime_hint.or(mime.as_deref())).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn same_bytes_are_stored_once_under_their_hash() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = store_media(dir.path(), b"jpeg bytes", Some("image/jpeg"))
            .await
            .expect("store");
        let b = store_media(dir.path(), b"jpeg bytes", Some("image/jpeg"))
            .await
            .expect("store again");
        assert_eq!(a, b);
        assert_eq!(a, format!("{}.jpg", sha256_hex(b"jpeg bytes")));
        assert!(dir.path().join(&a).is_file());
        let files = std::fs::read_dir(dir.path()).expect("read").count();
        assert_eq!(files, 1);
    }
}
