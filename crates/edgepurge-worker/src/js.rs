//! The two JavaScript chores the runtime bindings share: an options object from fields, and a
//! thrown value as text.

use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// A plain object with these fields, as the runtime's APIs take their options.
pub fn object(fields: &[(&str, JsValue)]) -> Result<JsValue, String> {
    let object = Object::new();
    for (name, value) in fields {
        Reflect::set(&object, &JsValue::from_str(name), value).map_err(text)?;
    }
    Ok(object.into())
}

/// A JavaScript error as text: its message when it has one.
pub fn text(e: JsValue) -> String {
    e.dyn_ref::<js_sys::Error>().map_or_else(|| format!("{e:?}"), |e| String::from(e.message()))
}
