//! Conversations built from Message-ID, In-Reply-To and References, as in RFC 5256's REFERENCES
//! algorithm without its subject merging: a message's parent is the nearest of its references that is
//! in the folder; messages whose parent is missing start a conversation of their own.
//!
//! Why not the server's THREAD command: imap-proto 0.17 has no parser for its response, and a parse
//! failure ends async-imap's connection. Building threads here also works on servers without THREAD.

use std::collections::HashMap;

use super::{MessageSummary, Uid};

/// What threading needs to know of a message.
#[derive(Clone, Debug)]
pub struct ThreadInput {
    pub uid: Uid,
    /// Without angle brackets.
    pub message_id: Option<String>,
    /// Oldest first, In-Reply-To last when References lacks it.
    pub references: Vec<String>,
    /// Seconds since the epoch.
    pub date: i64,
}

/// One conversation: its messages in reading order with their reply depth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thread {
    pub members: Vec<(Uid, usize)>,
    /// Date of its most recent message.
    pub latest: i64,
}

/// The threads of one page: the page actually shown (clamped to the last), the page size (at least
/// 1), the number of threads in all, and the page's threads.
pub fn paginate(all: Vec<Thread>, page: u32, page_size: u32) -> (u32, u32, u32, Vec<Thread>) {
    let page_size = page_size.max(1);
    let total = all.len() as u32;
    let page = page.min(total.div_ceil(page_size).max(1) - 1);
    let shown = all
        .into_iter()
        .skip((page * page_size) as usize)
        .take(page_size as usize)
        .collect();
    (page, page_size, total, shown)
}

/// Each thread's members as list lines; a member without a line (expunged meanwhile) is left out,
/// and so is a thread left empty.
pub fn fill(
    shown: Vec<Thread>,
    by_uid: &mut HashMap<Uid, MessageSummary>,
) -> Vec<Vec<(MessageSummary, usize)>> {
    shown
        .into_iter()
        .map(|t| {
            t.members
                .into_iter()
                .filter_map(|(u, d)| by_uid.remove(&u).map(|s| (s, d)))
                .collect::<Vec<_>>()
        })
        .filter(|t| !t.is_empty())
        .collect()
}

/// Groups messages into conversations, most recently active first.
pub fn build(inputs: &[ThreadInput]) -> Vec<Thread> {
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    for (i, m) in inputs.iter().enumerate() {
        if let Some(id) = m.message_id.as_deref() {
            // A duplicate Message-ID keeps its first message as the one others reply to.
            by_id.entry(id).or_insert(i);
        }
    }
    let mut parent: Vec<Option<usize>> = vec![None; inputs.len()];
    for (i, m) in inputs.iter().enumerate() {
        parent[i] = m
            .references
            .iter()
            .rev()
            .filter_map(|r| by_id.get(r.as_str()).copied())
            .find(|p| *p != i);
    }
    // Break cycles (forged or broken references): walk up, and cut where a node repeats.
    for i in 0..inputs.len() {
        let mut seen = vec![i];
        let mut cur = i;
        while let Some(p) = parent[cur] {
            if seen.contains(&p) {
                parent[cur] = None;
                break;
            }
            seen.push(p);
            cur = p;
        }
    }
    let mut children: Vec<Vec<usize>> = vec![vec![]; inputs.len()];
    let mut roots = Vec::new();
    for (i, p) in parent.iter().enumerate() {
        match p {
            Some(p) => children[*p].push(i),
            None => roots.push(i),
        }
    }
    for c in &mut children {
        c.sort_by_key(|&i| (inputs[i].date, inputs[i].uid));
    }
    let mut threads: Vec<Thread> = roots
        .into_iter()
        .map(|r| {
            let mut members = Vec::new();
            let mut stack = vec![(r, 0usize)];
            while let Some((i, depth)) = stack.pop() {
                members.push((inputs[i].uid, depth));
                for &c in children[i].iter().rev() {
                    stack.push((c, depth + 1));
                }
            }
            let latest = members
                .iter()
                .filter_map(|(u, _)| inputs.iter().find(|m| m.uid == *u))
                .map(|m| m.date)
                .max()
                .unwrap_or(0);
            Thread { members, latest }
        })
        .collect();
    threads.sort_by_key(|t| std::cmp::Reverse((t.latest, t.members.iter().map(|m| m.0).max())));
    threads
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(uid: u32, id: &str, refs: &[&str], date: i64) -> ThreadInput {
        ThreadInput {
            uid: Uid(uid),
            message_id: (!id.is_empty()).then(|| id.to_owned()),
            references: refs.iter().map(|r| r.to_string()).collect(),
            date,
        }
    }

    #[test]
    fn replies_nest_under_what_they_answer() {
        let t = build(&[
            m(1, "a", &[], 10),
            m(2, "x", &[], 15),
            m(3, "b", &["a"], 20),
            m(4, "c", &["a", "b"], 30),
            m(5, "d", &["a"], 25),
        ]);
        assert_eq!(t.len(), 2);
        assert_eq!(
            t[0].members,
            vec![(Uid(1), 0), (Uid(3), 1), (Uid(4), 2), (Uid(5), 1)]
        );
        assert_eq!(t[0].latest, 30);
        assert_eq!(t[1].members, vec![(Uid(2), 0)]);
    }

    #[test]
    fn missing_parents_and_cycles_do_not_lose_messages() {
        let t = build(&[
            m(1, "a", &["zz-not-here", "b"], 10),
            m(2, "b", &["a"], 20),
            m(3, "", &[], 5),
        ]);
        let all: usize = t.iter().map(|t| t.members.len()).sum();
        assert_eq!(all, 3, "every message appears once");
    }
}
