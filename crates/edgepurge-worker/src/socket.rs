//! A TCP connection to an instance, in clear text or TLS, on the runtime's
//! `cloudflare:sockets` `connect()`.
//!
//! TLS to an instance's address must check the certificate against the purged site's host, not
//! the address: the connection starts as `starttls` and upgrades at once with
//! `startTls({ expectedServerHostname })`. (Connecting by the site's host itself, as a Fly rule
//! without a pinned edge does, is plain `secureTransport: "on"`.) `worker::Socket` cannot do that (its `start_tls`
//! takes no options), so this is the thin byte stream the fan-out needs: open, write, read.
//! A certificate that does not match, or is not trusted, fails the connection; nothing here
//! can turn the check off.

use crate::js::{object, text};
use edgepurge_core::discovery::Endpoint;
use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{ReadableStreamDefaultReader, WritableStreamDefaultWriter};
use worker::wasm_bindgen_futures::{spawn_local, JsFuture};
use worker::worker_sys;

#[wasm_bindgen]
extern "C" {
    /// The runtime's socket, seen for the one method `worker_sys` binds without options.
    #[wasm_bindgen(extends = js_sys::Object)]
    type Upgradable;

    /// `Socket.startTls(options)`: the upgrade with the name the certificate must carry.
    #[wasm_bindgen(method, catch, js_name = startTls)]
    fn start_tls(this: &Upgradable, options: &JsValue) -> Result<worker_sys::Socket, JsValue>;
}

/// An open connection.
pub struct Connection {
    inner: worker_sys::Socket,
    reader: ReadableStreamDefaultReader,
    writer: WritableStreamDefaultWriter,
    /// A read still under way (its step timed out): the next read takes it over, so no bytes
    /// are lost between two reads.
    reading: Option<JsFuture>,
}

/// A connection asked for and not yet known to be open: the handshake goes on in the
/// background from the moment it is asked for. Dropped unopened, it is closed.
pub struct Opening {
    inner: Option<worker_sys::Socket>,
    tls: Option<String>,
}

impl Opening {
    /// Starts connecting to `to` (an address, or a name the platform resolves); over TLS when
    /// `tls` names the server, which its certificate must match.
    pub fn start(to: &Endpoint, tls: Option<&str>) -> Result<Opening, String> {
        let (hostname, port) = match to {
            Endpoint::Addr(addr) => (addr.ip().to_string(), addr.port()),
            Endpoint::Host { name, port } => (name.clone(), *port),
        };
        let address = object(&[("hostname", hostname.as_str().into()), ("port", port.into())])?;
        // Connecting by the very name the certificate must carry needs no upgrade option: plain
        // `on` checks it against that name. Only an address needs `expectedServerHostname`.
        let (transport, upgrade) = match tls {
            None => ("off", None),
            Some(name) if name == hostname => ("on", None),
            Some(name) => ("starttls", Some(name)),
        };
        let options = object(&[("secureTransport", transport.into()), ("allowHalfOpen", false.into())])?;
        let tls = tls.map(str::to_owned);
        let mut inner = worker_sys::connect(address, options).map_err(|e| context(tls.as_deref(), text(e)))?;
        if let Some(name) = upgrade {
            let options = object(&[("expectedServerHostname", name.into())])?;
            inner = inner
                .unchecked_ref::<Upgradable>()
                .start_tls(&options)
                .map_err(|e| context(tls.as_deref(), text(e)))?;
        }
        Ok(Opening { inner: Some(inner), tls })
    }

    /// The connection, once open. Until then the socket is also `self`'s, so a connect that fails,
    /// or whose future is dropped when its timeout runs out, closes it (`Drop`).
    pub async fn opened(mut self) -> Result<Connection, String> {
        let inner = self.inner.clone().ok_or("the connection was already taken")?;
        let open = async {
            JsFuture::from(inner.opened().map_err(text)?).await.map_err(text)?;
            let reader = inner.readable().map_err(text)?.get_reader().unchecked_into();
            let writer = inner.writable().map_err(text)?.get_writer().map_err(text)?;
            Ok((reader, writer))
        };
        let (reader, writer) = open.await.map_err(|e| context(self.tls.as_deref(), e))?;
        // Open: from here on the Connection closes it.
        self.inner = None;
        Ok(Connection { inner, reader, writer, reading: None })
    }
}

impl Drop for Opening {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            let _ = inner.close();
        }
    }
}

/// The runtime's own message for a refused certificate is opaque ("internal error; reference =
/// ..."): say what was expected.
fn context(tls: Option<&str>, e: String) -> String {
    match tls {
        Some(name) => format!("TLS expecting a certificate for {name}: {e}"),
        None => e,
    }
}

impl Connection {
    /// Writes all of `bytes`.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        JsFuture::from(self.writer.write_with_chunk(&Uint8Array::from(bytes))).await.map(drop).map_err(text)
    }

    /// The next bytes the instance sent, or `None` once it closed the connection.
    pub async fn read(&mut self) -> Result<Option<Vec<u8>>, String> {
        let reader = &self.reader;
        let pending = self.reading.get_or_insert_with(|| JsFuture::from(reader.read()));
        let result = pending.await;
        self.reading = None;
        let result = result.map_err(text)?;
        if Reflect::get(&result, &"done".into()).map_err(text)?.as_bool() == Some(true) {
            return Ok(None);
        }
        let chunk: Uint8Array = Reflect::get(&result, &"value".into()).map_err(text)?.unchecked_into();
        Ok(Some(chunk.to_vec()))
    }

    /// Closes it in the background: closing never holds up the queue or eats into a timeout.
    pub fn close(self) {
        if let Ok(closing) = self.inner.close() {
            spawn_local(async move {
                let _ = JsFuture::from(closing).await;
            });
        }
    }
}
