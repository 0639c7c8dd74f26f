//! Paging and ordering shared by every list the domain answers.

/// Sort direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    #[default]
    Ascending,
    Descending,
}

/// Which page of a list is wanted. Pages start at 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Paging {
    pub page: u64,
    pub limit: u64,
}

impl Paging {
    pub const DEFAULT_LIMIT: u64 = 50;
    pub const MAX_LIMIT: u64 = 500;

    /// Page numbers below 1 mean page 1; a missing or zero limit means the default; limits are
    /// capped at [`Paging::MAX_LIMIT`].
    pub fn new(page: Option<i64>, limit: Option<i64>) -> Paging {
        let page = page.filter(|p| *p > 0).map_or(1, |p| p as u64);
        let limit = limit
            .filter(|l| *l > 0)
            .map_or(Paging::DEFAULT_LIMIT, |l| (l as u64).min(Paging::MAX_LIMIT));
        Paging { page, limit }
    }
}

impl Default for Paging {
    fn default() -> Paging {
        Paging::new(None, None)
    }
}

/// One page of a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: u64,
    /// Number of pages (at least 1).
    pub pages: u64,
    /// Number of items on all pages.
    pub total: u64,
}

impl<T> Page<T> {
    /// Cuts page `paging` out of the whole, already ordered list.
    pub fn of(all: Vec<T>, paging: Paging) -> Page<T> {
        let total = all.len() as u64;
        let skip = usize::try_from(Page::<T>::skipped(paging)).unwrap_or(usize::MAX);
        let items = all
            .into_iter()
            .skip(skip)
            .take(paging.limit as usize)
            .collect();
        Page::holding(items, paging, total)
    }

    /// Page `paging` of a list of `total` items whose items on that page are `items`.
    pub fn holding(items: Vec<T>, paging: Paging, total: u64) -> Page<T> {
        Page {
            items,
            page: paging.page,
            pages: total.div_ceil(paging.limit).max(1),
            total,
        }
    }

    /// The items to skip before page `paging`.
    pub fn skipped(paging: Paging) -> u64 {
        (paging.page - 1).saturating_mul(paging.limit)
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            page: self.page,
            pages: self.pages,
            total: self.total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_defaults_and_caps() {
        assert_eq!(Paging::new(Some(0), None), Paging { page: 1, limit: 50 });
        assert_eq!(
            Paging::new(Some(-3), Some(10_000)),
            Paging {
                page: 1,
                limit: 500
            }
        );
        assert_eq!(Paging::new(Some(2), Some(5)), Paging { page: 2, limit: 5 });
    }

    #[test]
    fn pages_count_pages_not_items() {
        let page = Page::of((1..=11).collect::<Vec<_>>(), Paging::new(Some(3), Some(5)));
        assert_eq!(page.items, vec![11]);
        assert_eq!((page.pages, page.total), (3, 11));
        let empty = Page::of(Vec::<u8>::new(), Paging::default());
        assert_eq!((empty.pages, empty.items.len()), (1, 0));
    }
}
