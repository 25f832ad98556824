//! Iggy native protocol 0.11: request/reply headers, commands, the batch format.
