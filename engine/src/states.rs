//! The state enums of Sparkling's state machines (submitted jobs and their
//! statements, pipeline datasets, streaming queries, distributed jobs, stages and
//! tasks) are declared with [`state_enum!`]: each state serializes as its upper-case
//! name (`RUNNING`), the form state files, the JSON API, the UI and Prometheus labels
//! have always used, so files written by earlier versions stay readable.

/// Declares a state enum: `Copy`, serialized as the string given for each variant,
/// with `as_str()`, `Display` and `ALL` (every variant, in declaration order).
///
/// ```
/// sparkling_engine::state_enum! {
///     /// A light.
///     pub enum Light { Red => "RED", Green => "GREEN" }
/// }
/// assert_eq!(Light::Red.as_str(), "RED");
/// assert_eq!(Light::ALL, &[Light::Red, Light::Green]);
/// ```
#[macro_export]
macro_rules! state_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        $vis enum $name {
            $( $(#[$variant_meta])* #[serde(rename = $text)] $variant ),+
        }

        impl $name {
            /// Every state, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The state's name, as serialized.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    state_enum! {
        /// A state machine for the test.
        enum Probe {
            /// Going.
            Going => "GOING",
            /// Gone, also read from an older lower-case form.
            #[serde(alias = "gone")]
            Gone => "GONE",
        }
    }

    #[test]
    fn states_serialize_as_their_names_and_read_back() {
        for state in Probe::ALL {
            let json = serde_json::to_value(state).unwrap();
            assert_eq!(json, serde_json::json!(state.as_str()));
            assert_eq!(serde_json::from_value::<Probe>(json).unwrap(), *state);
            assert_eq!(state.to_string(), state.as_str());
        }
        let old: Probe = serde_json::from_str("\"gone\"").unwrap();
        assert_eq!(old, Probe::Gone);
        assert!(serde_json::from_str::<Probe>("\"LOST\"").is_err());
    }
}
