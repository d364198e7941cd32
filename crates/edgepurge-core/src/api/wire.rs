//! String enums of the wire, each declared once: its variants and their names.
//!
//! As rustls' `enum_builder!` does for protocol enums, `str_enum!` turns one declaration into
//! the enum and everything that reads or writes its names, so the name a variant is stored
//! under, serialised as, printed as and parsed from cannot drift apart.

/// Declares a string enum: each variant with its wire name (`NotCached = "not_cached"`).
///
/// Gives the enum (`Debug`, `Clone`, `Copy`, `PartialEq`, `Eq`, plus the derives written on
/// it), `ALL` (every variant, in declaration order), `as_str`, `parse` (strict: any other text
/// is `None`), `Display` (the name), and serde's `Serialize` and `Deserialize` as the names.
/// With the crate's `schema` feature, `JsonSchema` too: one `const` per variant with its doc.
///
/// serde and schemars read the names through their own derives (`#[serde(rename = ..)]` on
/// each variant), so the JSON, its errors and its JSON Schema are theirs, not a second
/// implementation's.
macro_rules! str_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident = $wire:literal,
            )+
        }
    ) => {
        $(#[$meta])*
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        $vis enum $name {
            $(
                $(#[$variant_meta])*
                #[serde(rename = $wire)]
                $variant,
            )+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: [$name; [$($wire),+].len()] = [$($name::$variant),+];

            /// The wire name: serialised, stored and printed.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)+
                }
            }

            /// Reads a wire name strictly: any other text is `None`, never a default.
            pub fn parse(raw: &str) -> Option<$name> {
                match raw {
                    $($wire => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use str_enum;
