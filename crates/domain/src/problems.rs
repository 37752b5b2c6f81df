//! Problems with input fields, as plain data (each service maps them to its own error
//! body).

/// Every problem found with some input, in order: `(field, message)` pairs such as
/// `("capabilities[2]", "must be resource:action ...")`.
pub type FieldProblems = Vec<(String, String)>;
