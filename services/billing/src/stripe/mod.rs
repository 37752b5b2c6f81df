//! Stripe: the API calls we make, webhook signatures, and the events we read.

pub mod client;
pub mod event;
pub mod signature;

pub use client::{CheckoutRequest, CheckoutSession, ProviderError, StripeClient};
