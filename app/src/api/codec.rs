//! How server functions encode their results: JSON, decoded in the browser from text.
//!
//! Leptos decodes the resources a page was rendered with by `serde_json::from_str`, and
//! its stock JSON codec decodes server-function responses by `serde_json::from_slice`.
//! serde_json monomorphises a deserialiser per reader, so with both every result type's
//! decoder was in the browser's WebAssembly twice. [`Json`] decodes responses from text
//! too, leaving one copy. The bytes on the wire are the same `application/json`.

use leptos::server_fn::codec::Post;
use leptos::server_fn::{ContentType, Decodes, Encodes, Format, FormatType};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The encoding: `application/json`, read as UTF-8 text.
pub struct JsonText;

/// A server function's output encoding: `#[server(output = crate::api::codec::Json)]`.
pub type Json = Post<JsonText>;

impl ContentType for JsonText {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonText {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for JsonText {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<leptos::server_fn::Bytes, Self::Error> {
        serde_json::to_vec(output).map(Into::into)
    }
}

impl<T: DeserializeOwned> Decodes<T> for JsonText {
    type Error = serde_json::Error;

    fn decode(bytes: leptos::server_fn::Bytes) -> Result<T, Self::Error> {
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            <serde_json::Error as serde::de::Error>::custom("the response is not UTF-8")
        })?;
        serde_json::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_bad_bytes() {
        let bytes = <JsonText as Encodes<Vec<&str>>>::encode(&vec!["a", "é"]).unwrap();
        let back: Vec<String> = <JsonText as Decodes<Vec<String>>>::decode(bytes).unwrap();
        assert_eq!(back, ["a", "é"]);
        let bad = leptos::server_fn::Bytes::from_static(b"[\"\xff\"]");
        let err = <JsonText as Decodes<Vec<String>>>::decode(bad).unwrap_err();
        assert!(err.to_string().contains("UTF-8"), "{err}");
    }
}
