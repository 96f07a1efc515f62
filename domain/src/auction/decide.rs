use chrono::{DateTime, TimeDelta, Utc};
use events::{
    AuctionCancelled, AuctionCreated, AuctionEnded, AuctionExtended, AuctionRelisted,
    AuctionResult, AuctionStarted, BidPlaced, EndTrigger, ItemOfferedToRunnerUp, MaxBidRaised,
    Money, PaymentFailed, PaymentSucceeded, UnsoldReason, UserId,
};

use super::rules::{self, increment_at};
use super::state::{Auction, Settlement, State, Status, evolve};
use super::{
    BuyNow, CancelAuction, CreateAuction, EndAuction, Event, PlaceBid, RecordPaymentFailed,
    RecordPaymentSucceeded, Rejection, RelistAuction, RequestStart, StartAuction,
};

type Decision = Result<Vec<Event>, Rejection>;

fn existing(state: &State) -> Result<&Auction, Rejection> {
    state.auction.as_ref().ok_or(Rejection::AuctionNotFound)
}

fn amount_in(
    auction_currency: &events::Currency,
    money: &Money,
    field: &'static str,
) -> Result<i64, Rejection> {
    if money.currency != *auction_currency {
        return Err(Rejection::CurrencyMismatch {
            field,
            expected: auction_currency.clone(),
            given: money.currency.clone(),
        });
    }
    if money.amount_minor <= 0 {
        return Err(Rejection::AmountNotPositive { field });
    }
    if money.amount_minor > rules::MAX_AMOUNT_MINOR {
        return Err(Rejection::AmountTooLarge {
            field,
            max: rules::MAX_AMOUNT_MINOR,
        });
    }
    Ok(money.amount_minor)
}

fn check_reason(reason: Option<&str>) -> Result<(), Rejection> {
    match reason {
        Some(reason) if reason.chars().count() > rules::REASON_MAX_CHARS => {
            Err(Rejection::ReasonTooLong {
                max: rules::REASON_MAX_CHARS,
            })
        }
        _ => Ok(()),
    }
}

/// Creates the auction, and starts it at once when its start time has come.
pub fn decide_create(state: &State, command: &CreateAuction, now: DateTime<Utc>) -> Decision {
    if let Some(auction) = &state.auction {
        let same = auction.id == command.auction_id
            && auction.seller_id == command.seller_id
            && auction.title == command.title.trim();
        return if same {
            Ok(vec![])
        } else {
            Err(Rejection::AuctionAlreadyExists)
        };
    }

    let title = command.title.trim();
    if title.is_empty() || title.chars().count() > rules::TITLE_MAX_CHARS {
        return Err(Rejection::InvalidTitle {
            max: rules::TITLE_MAX_CHARS,
        });
    }
    let description = command
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    if description.is_some_and(|d| d.chars().count() > rules::DESCRIPTION_MAX_CHARS) {
        return Err(Rejection::DescriptionTooLong {
            max: rules::DESCRIPTION_MAX_CHARS,
        });
    }

    let currency = &command.currency;
    let starting = amount_in(currency, &command.starting_price, "startingPrice")?;
    let reserve = command
        .reserve_price
        .as_ref()
        .map(|m| amount_in(currency, m, "reservePrice"))
        .transpose()?;
    let buy_now = command
        .buy_now_price
        .as_ref()
        .map(|m| amount_in(currency, m, "buyNowPrice"))
        .transpose()?;
    if reserve.is_some_and(|reserve| reserve < starting) {
        return Err(Rejection::ReserveBelowStartingPrice);
    }
    if let Some(buy_now) = buy_now {
        if buy_now <= starting {
            return Err(Rejection::BuyNowNotAboveStartingPrice);
        }
        if reserve.is_some_and(|reserve| buy_now < reserve) {
            return Err(Rejection::BuyNowBelowReserve);
        }
    }

    let increment = command
        .increment
        .clone()
        .unwrap_or_else(rules::default_increment);
    if let Some(reason) = rules::increment_problem(&increment) {
        return Err(Rejection::InvalidIncrement { reason });
    }
    let soft_close = command.soft_close.unwrap_or(rules::DEFAULT_SOFT_CLOSE);
    if let Some(reason) = rules::soft_close_problem(&soft_close) {
        return Err(Rejection::InvalidSoftClose { reason });
    }

    let starts_at = match command.starts_at {
        Some(at) if at < now - rules::START_TIME_TOLERANCE => return Err(Rejection::StartInPast),
        Some(at) if at > now + rules::MAX_START_DELAY => {
            return Err(Rejection::StartTooFarAhead {
                max: rules::MAX_START_DELAY,
            });
        }
        Some(at) if at > now => at,
        _ => now,
    };
    let ends_at = command.ends_at;
    if ends_at <= starts_at {
        return Err(Rejection::EndNotAfterStart);
    }
    if ends_at - starts_at < rules::MIN_DURATION {
        return Err(Rejection::DurationTooShort {
            min: rules::MIN_DURATION,
        });
    }
    if ends_at - starts_at > rules::MAX_DURATION {
        return Err(Rejection::DurationTooLong {
            max: rules::MAX_DURATION,
        });
    }

    let money = |amount| Money::new(amount, currency.clone());
    let mut events = vec![Event::AuctionCreated(AuctionCreated {
        auction_id: command.auction_id,
        seller_id: command.seller_id.clone(),
        title: title.to_owned(),
        description: description.map(str::to_owned),
        currency: currency.clone(),
        starting_price: money(starting),
        reserve_price: reserve.map(money),
        buy_now_price: buy_now.map(money),
        increment,
        starts_at,
        ends_at,
        soft_close,
        item_id: None,
        relisted_from: None,
    })];
    if starts_at <= now {
        events.push(Event::AuctionStarted(AuctionStarted {}));
    }
    Ok(events)
}

/// Opens bidding once the start time has come.
pub fn decide_start(state: &State, _command: &StartAuction, now: DateTime<Utc>) -> Decision {
    let auction = existing(state)?;
    match auction.status {
        Status::Active => Ok(vec![]),
        Status::Ended(_) => Err(Rejection::AuctionEnded),
        Status::Cancelled => Err(Rejection::AuctionCancelled),
        Status::Scheduled if now < auction.starts_at => Err(Rejection::TooEarlyToStart {
            starts_at: auction.starts_at,
        }),
        Status::Scheduled => Ok(vec![Event::AuctionStarted(AuctionStarted {})]),
    }
}

/// Opens bidding when a user asks: starting is harmless once due, but only the seller may ask
/// for it, early or at all; anyone else is refused as for cancelling.
pub fn decide_request_start(state: &State, command: &RequestStart, now: DateTime<Utc>) -> Decision {
    let auction = existing(state)?;
    if auction.seller_id != command.requested_by {
        return Err(Rejection::NotSeller);
    }
    decide_start(state, &StartAuction, now)
}

/// Checks that bidding is open at `now`. A scheduled auction whose start time has come opens
/// with this command (the scheduler may lag), so the returned events start with its
/// `AuctionStarted`, and the returned state has it applied.
fn open_for_bidding(state: &State, now: DateTime<Utc>) -> Result<(State, Vec<Event>), Rejection> {
    let auction = existing(state)?;
    match &auction.status {
        Status::Cancelled => return Err(Rejection::AuctionCancelled),
        Status::Ended(_) => return Err(Rejection::AuctionEnded),
        _ if now >= auction.ends_at => return Err(Rejection::AuctionEnded),
        Status::Scheduled if now < auction.starts_at => {
            return Err(Rejection::AuctionNotStarted {
                starts_at: auction.starts_at,
            });
        }
        Status::Scheduled => {}
        Status::Active => return Ok((state.clone(), vec![])),
    }
    let started = Event::AuctionStarted(AuctionStarted {});
    Ok((evolve(state.clone(), &started), vec![started]))
}

/// Places a bid with proxy bidding.
///
/// The visible price is the lowest amount that beats the runner-up's maximum by one increment,
/// capped at the leader's maximum, and never below the amount the bidder chose to bid now.
/// Equal maximums go to the earlier bid. Once the leader's maximum meets the reserve, the price
/// is at least the reserve. The leader bidding again raises their maximum instead of bidding
/// against themselves. A bid less than the soft-close window before the end extends the end.
pub fn decide_place_bid(state: &State, command: &PlaceBid, now: DateTime<Utc>) -> Decision {
    if existing(state)?.took_effect(&command.bid_id) {
        return Ok(vec![]);
    }
    let (state, mut events) = open_for_bidding(state, now)?;
    let auction = existing(&state)?;
    if command.bidder_id == auction.seller_id {
        return Err(Rejection::SellerCannotBid);
    }
    let amount = amount_in(&auction.currency, &command.amount, "amount")?;
    let max = match &command.max_amount {
        Some(max) => amount_in(&auction.currency, max, "maxAmount")?,
        None => amount,
    };
    if max < amount {
        return Err(Rejection::MaxBelowAmount);
    }

    if auction.leader.as_ref() == Some(&command.bidder_id) {
        events.push(raise_max(auction, command, max)?);
        return Ok(events);
    }

    let minimum = match auction.price {
        None => auction.starting_price,
        Some(price) => price.saturating_add(increment_at(&auction.increment, price)),
    };
    if amount < minimum {
        return Err(Rejection::BidTooLow {
            minimum: auction.money(minimum),
        });
    }

    let beat = |runner_up_max: i64| {
        runner_up_max.saturating_add(increment_at(&auction.increment, runner_up_max))
    };
    let (leader, leader_max, price) = match (auction.leader.as_ref(), auction.leader_max()) {
        (Some(leader), Some(leader_max)) if max <= leader_max => {
            // The leader's proxy answers: they keep the lead (ties go to the earlier bid).
            (leader.clone(), leader_max, leader_max.min(beat(max)))
        }
        (Some(_), Some(leader_max)) => (
            command.bidder_id.clone(),
            max,
            amount.max(max.min(beat(leader_max))),
        ),
        _ => (command.bidder_id.clone(), max, amount),
    };
    let price = with_reserve(auction, leader_max, price);

    events.push(Event::BidPlaced(BidPlaced {
        bid_id: command.bid_id,
        bidder_id: command.bidder_id.clone(),
        amount: auction.money(amount),
        max_amount: auction.money(max),
        previous_price: auction.price.map(|p| auction.money(p)),
        new_price: auction.money(price),
        previous_leader_id: auction.leader.clone(),
        leader_id: leader,
    }));
    events.extend(soft_close_extension(auction, command, now));
    Ok(events)
}

/// Once the leading maximum meets the hidden reserve, the price jumps to the reserve: the item
/// will sell, and bidders can see it.
fn with_reserve(auction: &Auction, leader_max: i64, price: i64) -> i64 {
    match auction.reserve_price {
        Some(reserve) if leader_max >= reserve => price.max(reserve),
        _ => price,
    }
}

fn raise_max(auction: &Auction, command: &PlaceBid, new_max: i64) -> Result<Event, Rejection> {
    let current_max = auction.leader_max().unwrap_or(0);
    if new_max <= current_max {
        return Err(Rejection::MaxNotAboveCurrentMax {
            current_max: auction.money(current_max),
        });
    }
    let price = auction.price.unwrap_or(auction.starting_price);
    Ok(Event::MaxBidRaised(MaxBidRaised {
        bid_id: command.bid_id,
        bidder_id: command.bidder_id.clone(),
        previous_max_amount: auction.money(current_max),
        new_max_amount: auction.money(new_max),
        previous_price: auction.money(price),
        new_price: auction.money(with_reserve(auction, new_max, price)),
    }))
}

fn soft_close_extension(
    auction: &Auction,
    command: &PlaceBid,
    now: DateTime<Utc>,
) -> Option<Event> {
    let window = TimeDelta::seconds(i64::from(auction.soft_close.window_seconds));
    let extension = TimeDelta::seconds(i64::from(auction.soft_close.extension_seconds));
    (window > TimeDelta::zero() && auction.ends_at - now < window).then(|| {
        Event::AuctionExtended(AuctionExtended {
            triggered_by_bid_id: command.bid_id,
            previous_ends_at: auction.ends_at,
            new_ends_at: auction.ends_at + extension,
        })
    })
}

/// Buys the item at the buy-now price, ending the auction at once. Buy-now is open until a bid
/// meets the reserve; without a reserve, until the first bid.
pub fn decide_buy_now(state: &State, command: &BuyNow, now: DateTime<Utc>) -> Decision {
    if existing(state)?.took_effect(&command.purchase_id) {
        return Ok(vec![]);
    }
    let (state, mut events) = open_for_bidding(state, now)?;
    let auction = existing(&state)?;
    if command.buyer_id == auction.seller_id {
        return Err(Rejection::SellerCannotBid);
    }
    let Some(buy_now_price) = auction.buy_now_price else {
        return Err(Rejection::BuyNowNotOffered);
    };
    if auction.reserve_met() {
        return Err(Rejection::BuyNowNoLongerAvailable);
    }
    events.push(Event::AuctionEnded(AuctionEnded {
        result: AuctionResult::Sold {
            winner_id: command.buyer_id.clone(),
            final_price: auction.money(buy_now_price),
        },
        trigger: EndTrigger::BoughtNow {
            purchase_id: command.purchase_id,
        },
    }));
    Ok(events)
}

/// Ends the auction at or after its end time: sold to the leader when the reserve is met,
/// otherwise unsold. Ending an ended auction emits nothing.
pub fn decide_end(state: &State, _command: &EndAuction, now: DateTime<Utc>) -> Decision {
    let auction = existing(state)?;
    match auction.status {
        Status::Ended(_) => return Ok(vec![]),
        Status::Cancelled => return Err(Rejection::AuctionCancelled),
        Status::Scheduled | Status::Active if now < auction.ends_at => {
            return Err(Rejection::AuctionNotOver {
                ends_at: auction.ends_at,
            });
        }
        Status::Scheduled | Status::Active => {}
    }
    let result = match (&auction.leader, auction.price) {
        (Some(leader), Some(price)) if auction.reserve_met() => AuctionResult::Sold {
            winner_id: leader.clone(),
            final_price: auction.money(price),
        },
        (Some(_), _) => AuctionResult::Unsold {
            reason: UnsoldReason::ReserveNotMet,
        },
        (None, _) => AuctionResult::Unsold {
            reason: UnsoldReason::NoBids,
        },
    };
    Ok(vec![Event::AuctionEnded(AuctionEnded {
        result,
        trigger: EndTrigger::EndTimeReached,
    })])
}

/// Cancels the auction: the seller only, before the first bid and before it ended.
pub fn decide_cancel(state: &State, command: &CancelAuction, now: DateTime<Utc>) -> Decision {
    let auction = existing(state)?;
    if command.requested_by != auction.seller_id {
        return Err(Rejection::NotSeller);
    }
    match auction.status {
        Status::Cancelled => return Ok(vec![]),
        Status::Ended(_) => return Err(Rejection::AuctionEnded),
        _ if now >= auction.ends_at => return Err(Rejection::AuctionEnded),
        Status::Scheduled | Status::Active => {}
    }
    if auction.bid_count > 0 {
        return Err(Rejection::AuctionHasBids);
    }
    check_reason(command.reason.as_deref())?;
    Ok(vec![Event::AuctionCancelled(AuctionCancelled {
        cancelled_by: command.requested_by.clone(),
        reason: command.reason.clone(),
    })])
}

/// Whether `user` may add photos of the auction's item: its seller may, whatever the
/// auction's status (the photos describe the item, not the bidding); nobody else may.
pub fn may_add_photos(state: &State, user: &UserId) -> Result<(), Rejection> {
    let auction = existing(state)?;
    if *user != auction.seller_id {
        return Err(Rejection::NotSeller);
    }
    Ok(())
}

/// Closes an auction that is over without a sale for good, its item put up again as
/// `relisted_as`: only its seller may, and only once (asked again for the same new auction,
/// there is nothing to decide). The new auction itself is [`decide_create_relisting`]'s, on
/// its own stream.
pub fn decide_relist(state: &State, command: &RelistAuction, _now: DateTime<Utc>) -> Decision {
    let auction = existing(state)?;
    if command.seller_id != auction.seller_id {
        return Err(Rejection::NotSeller);
    }
    match auction.relisted_as {
        Some(relisted_as) if relisted_as == command.relisted_as => return Ok(vec![]),
        Some(relisted_as) => return Err(Rejection::AlreadyRelisted { relisted_as }),
        None => {}
    }
    if !auction.unsold() {
        return Err(match auction.status {
            Status::Scheduled | Status::Active => Rejection::AuctionNotOver {
                ends_at: auction.ends_at,
            },
            Status::Ended(_) | Status::Cancelled => Rejection::ItemSold,
        });
    }
    Ok(vec![Event::AuctionRelisted(AuctionRelisted {
        relisted_as: command.relisted_as,
    })])
}

/// The new auction of a relisting of `auction`: the same item, seller, title, description,
/// currency, prices, increment and soft close, bidding when `command` says.
pub fn relisting_of(auction: &Auction, command: &RelistAuction) -> CreateAuction {
    CreateAuction {
        auction_id: command.relisted_as,
        seller_id: auction.seller_id.clone(),
        title: auction.title.clone(),
        description: auction.description.clone(),
        currency: auction.currency.clone(),
        starting_price: auction.money(auction.starting_price),
        reserve_price: auction.reserve_price.map(|amount| auction.money(amount)),
        buy_now_price: auction.buy_now_price.map(|amount| auction.money(amount)),
        increment: Some(auction.increment.clone()),
        starts_at: command.starts_at,
        ends_at: command.ends_at,
        soft_close: Some(auction.soft_close),
    }
}

/// Creates the auction of a relisting ([`relisting_of`] `relisted`): [`decide_create`], its
/// `AuctionCreated` naming the item `relisted` sold and `relisted` itself.
pub fn decide_create_relisting(
    state: &State,
    command: &CreateAuction,
    relisted: &Auction,
    now: DateTime<Utc>,
) -> Decision {
    let mut events = decide_create(state, command, now)?;
    for event in &mut events {
        if let Event::AuctionCreated(created) = event {
            created.item_id = Some(relisted.item_id);
            created.relisted_from = Some(relisted.id);
        }
    }
    Ok(events)
}

fn awaited_payment(auction: &Auction, buyer: &UserId) -> Result<i64, Rejection> {
    match &auction.settlement {
        Some(Settlement::AwaitingPayment {
            buyer: awaited,
            amount,
        }) => {
            if awaited == buyer {
                Ok(*amount)
            } else {
                Err(Rejection::BuyerMismatch)
            }
        }
        _ => Err(Rejection::NotAwaitingPayment),
    }
}

/// Records the buyer's payment. Recording the same payment again emits nothing.
pub fn decide_record_payment_succeeded(
    state: &State,
    command: &RecordPaymentSucceeded,
    _now: DateTime<Utc>,
) -> Decision {
    let auction = existing(state)?;
    if let Some(Settlement::Paid {
        buyer,
        payment_reference,
        ..
    }) = &auction.settlement
        && *buyer == command.buyer_id
        && *payment_reference == command.payment_reference
    {
        return Ok(vec![]);
    }
    let reference_len = command.payment_reference.chars().count();
    if !(1..=rules::PAYMENT_REFERENCE_MAX_CHARS).contains(&reference_len) {
        return Err(Rejection::InvalidPaymentReference {
            max: rules::PAYMENT_REFERENCE_MAX_CHARS,
        });
    }
    let owed = awaited_payment(auction, &command.buyer_id)?;
    if command.amount != auction.money(owed) {
        return Err(Rejection::PaymentAmountMismatch {
            expected: auction.money(owed),
        });
    }
    Ok(vec![Event::PaymentSucceeded(PaymentSucceeded {
        buyer_id: command.buyer_id.clone(),
        amount: command.amount.clone(),
        payment_reference: command.payment_reference.clone(),
    })])
}

/// Records that the buyer's payment failed, and offers the item once to the runner-up at their
/// maximum when that maximum meets the reserve; otherwise the item stays unsold.
///
/// A payment already recorded can still fail: when the sale cannot complete after it (the
/// item could not be transferred), the payment saga refunds the buyer and records the failure,
/// and the sale is unwound as if the charge had been declined.
pub fn decide_record_payment_failed(
    state: &State,
    command: &RecordPaymentFailed,
    _now: DateTime<Utc>,
) -> Decision {
    let auction = existing(state)?;
    if auction.failed_buyers.contains(&command.buyer_id) {
        return Ok(vec![]);
    }
    check_reason(Some(&command.reason))?;
    let owed = match &auction.settlement {
        Some(Settlement::Paid { buyer, amount, .. }) if *buyer == command.buyer_id => *amount,
        _ => awaited_payment(auction, &command.buyer_id)?,
    };
    let mut events = vec![Event::PaymentFailed(PaymentFailed {
        buyer_id: command.buyer_id.clone(),
        amount: auction.money(owed),
        reason: command.reason.clone(),
    })];
    if !auction.runner_up_offered {
        let offer = auction
            .runner_up(&command.buyer_id)
            .filter(|(_, standing)| auction.reserve_price.is_none_or(|r| standing.max >= r));
        if let Some((runner_up, standing)) = offer {
            events.push(Event::ItemOfferedToRunnerUp(ItemOfferedToRunnerUp {
                buyer_id: runner_up.clone(),
                price: auction.money(standing.max),
            }));
        }
    }
    Ok(events)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::TimeZone;
    use events::{AuctionId, Currency, Money};

    use super::*;
    use crate::auction::fold;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
    }

    fn user(id: &str) -> UserId {
        UserId::try_from(id).unwrap()
    }

    /// An auction by seller-ann that starts in an hour.
    fn scheduled() -> State {
        let eur = Currency::try_from("EUR").unwrap();
        let created = decide_create(
            &State::default(),
            &CreateAuction {
                auction_id: AuctionId(uuid::Uuid::nil()),
                seller_id: user("seller-ann"),
                title: "Lamp".to_owned(),
                description: None,
                currency: eur.clone(),
                starting_price: Money::new(1_000, eur),
                reserve_price: None,
                buy_now_price: None,
                increment: None,
                starts_at: Some(now() + TimeDelta::hours(1)),
                ends_at: now() + TimeDelta::days(1),
                soft_close: None,
            },
            now(),
        )
        .unwrap();
        fold(created.iter())
    }

    #[test]
    fn given_an_auction_only_its_seller_may_add_photos_and_none_to_an_auction_that_does_not_exist()
    {
        let state = scheduled();
        assert_eq!(may_add_photos(&state, &user("seller-ann")), Ok(()));
        assert_eq!(
            may_add_photos(&state, &user("bidder-bob")),
            Err(Rejection::NotSeller)
        );
        assert_eq!(
            may_add_photos(&State::default(), &user("seller-ann")),
            Err(Rejection::AuctionNotFound)
        );
    }

    #[test]
    fn given_a_scheduled_auction_when_another_user_asks_to_start_it_then_not_seller_even_if_due() {
        let state = scheduled();
        let by_bob = RequestStart {
            requested_by: user("bidder-bob"),
        };
        for at in [now(), now() + TimeDelta::hours(2)] {
            assert_eq!(
                decide_request_start(&state, &by_bob, at),
                Err(Rejection::NotSeller)
            );
        }
    }

    #[test]
    fn given_a_scheduled_auction_when_its_seller_asks_to_start_it_then_it_starts_once_due() {
        let state = scheduled();
        let by_ann = RequestStart {
            requested_by: user("seller-ann"),
        };
        assert!(matches!(
            decide_request_start(&state, &by_ann, now()),
            Err(Rejection::TooEarlyToStart { .. })
        ));
        assert_eq!(
            decide_request_start(&state, &by_ann, now() + TimeDelta::hours(1)),
            decide_start(&state, &StartAuction, now() + TimeDelta::hours(1))
        );
        assert_eq!(
            decide_request_start(&State::default(), &by_ann, now()),
            Err(Rejection::AuctionNotFound)
        );
    }
}
