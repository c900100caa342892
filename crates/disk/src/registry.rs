//! `disks()`: every raw disk and the partitions on it, with the views that read them.

use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

use crate::device::BlockDevice;
use crate::devices::PartitionView;
use crate::partition::{read_partitions, PartitionError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Disk,
    Partition,
}

impl EntryKind {
    /// "disk" or "partition", as scripts see it.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Disk => "disk",
            EntryKind::Partition => "partition",
        }
    }
}

/// One row of `disks()`.
pub struct DiskEntry {
    /// `hd0`, `hd0p1`, ...
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    pub kind: EntryKind,
    /// GPT partition name.
    pub label: Option<String>,
    /// GPT unique partition GUID.
    pub uuid: Option<String>,
    /// The device to mount or unlock.
    pub device: Rc<dyn BlockDevice>,
}

/// Lists each disk (named by its `name()`, e.g. `hd0`) followed by its partitions `hd0p1`... A disk whose
/// table is unreadable is still listed, and its error returned beside the list.
// Kept out of line: inlined into the world's device list, with the partition readers, it is bigger.
#[inline(never)]
pub fn probe_disks(disks: &[Rc<dyn BlockDevice>]) -> (Vec<DiskEntry>, Vec<PartitionError>) {
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    for disk in disks {
        entries.push(DiskEntry {
            name: String::from(disk.name()),
            size: disk.size(),
            kind: EntryKind::Disk,
            label: None,
            uuid: None,
            device: disk.clone(),
        });
        let partitions = match read_partitions(&**disk) {
            Ok(list) => list,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        for p in partitions {
            let name = format!("{}p{}", disk.name(), p.number);
            // Tables only list partitions that fit the disk, so the view cannot fail; skip it if it did.
            let Ok(view) = PartitionView::new(&name, disk.clone(), p.start, p.sectors) else {
                continue;
            };
            entries.push(DiskEntry {
                name,
                size: view.size(),
                kind: EntryKind::Partition,
                label: p.label,
                uuid: p.uuid,
                device: Rc::new(view),
            });
        }
    }
    (entries, errors)
}
