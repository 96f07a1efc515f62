//! The read models the API answers queries from, behind object-safe ports so that the router
//! stays generic over one thing only (the event store backend).
//!
//! [`Views`] is the projector's [`ReadModels`] and [`Inbox`] the notifier's
//! [`ListNotifications`], boxed: every implementation of those (DynamoDB, the in-memory twins)
//! is one of these.

use std::future::Future;
use std::pin::Pin;

use events::{AuctionId, UserId};
use read_models::notifications::{ListNotifications, NotificationPage, NotifierError};
use read_models::{
    AuctionStatus, AuctionView, Page, PageRequest, ProjectorError, ReadModels, UserBid,
};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The auction views and the users' bid rows.
pub trait Views: Send + Sync {
    fn auction(
        &self,
        auction_id: AuctionId,
    ) -> BoxFuture<'_, Result<Option<AuctionView>, ProjectorError>>;

    fn auctions<'a>(
        &'a self,
        ids: &'a [AuctionId],
    ) -> BoxFuture<'a, Result<Vec<AuctionView>, ProjectorError>>;

    fn auctions_by_status<'a>(
        &'a self,
        status: AuctionStatus,
        page: &'a PageRequest,
    ) -> BoxFuture<'a, Result<Page<AuctionView>, ProjectorError>>;

    fn auctions_by_seller<'a>(
        &'a self,
        seller_id: &'a UserId,
        page: &'a PageRequest,
    ) -> BoxFuture<'a, Result<Page<AuctionView>, ProjectorError>>;

    fn user_bids<'a>(
        &'a self,
        user_id: &'a UserId,
        page: &'a PageRequest,
    ) -> BoxFuture<'a, Result<Page<UserBid>, ProjectorError>>;
}

impl<T: ReadModels> Views for T {
    fn auction(
        &self,
        auction_id: AuctionId,
    ) -> BoxFuture<'_, Result<Option<AuctionView>, ProjectorError>> {
        Box::pin(ReadModels::auction(self, auction_id))
    }

    fn auctions<'a>(
        &'a self,
        ids: &'a [AuctionId],
    ) -> BoxFuture<'a, Result<Vec<AuctionView>, ProjectorError>> {
        Box::pin(ReadModels::auctions(self, ids))
    }

    fn auctions_by_status<'a>(
        &'a self,
        status: AuctionStatus,
        page: &'a PageRequest,
    ) -> BoxFuture<'a, Result<Page<AuctionView>, ProjectorError>> {
        Box::pin(ReadModels::auctions_by_status(self, status, page))
    }

    fn auctions_by_seller<'a>(
        &'a self,
        seller_id: &'a UserId,
        page: &'a PageRequest,
    ) -> BoxFuture<'a, Result<Page<AuctionView>, ProjectorError>> {
        Box::pin(ReadModels::auctions_by_seller(self, seller_id, page))
    }

    fn user_bids<'a>(
        &'a self,
        user_id: &'a UserId,
        page: &'a PageRequest,
    ) -> BoxFuture<'a, Result<Page<UserBid>, ProjectorError>> {
        Box::pin(ReadModels::user_bids(self, user_id, page))
    }
}

/// The users' notifications.
pub trait Inbox: Send + Sync {
    fn list<'a>(
        &'a self,
        user: &'a UserId,
        limit: u32,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<NotificationPage, NotifierError>>;
}

impl<T: ListNotifications> Inbox for T {
    fn list<'a>(
        &'a self,
        user: &'a UserId,
        limit: u32,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<NotificationPage, NotifierError>> {
        Box::pin(ListNotifications::list(self, user, limit, cursor))
    }
}
