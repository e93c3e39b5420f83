//! `server`: the tsdbd process (skeleton).
