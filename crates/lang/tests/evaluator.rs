//! The evaluator's own paths for common shapes must behave as the general ones: `for x in range(...)` makes no
//! list, and `x[i]` of leaves indexes them in place.

mod common {
    pub mod quiet;
}

use bootscript_lang::{held_bytes, Config};
use common::quiet::run;

fn limit(memory_limit: usize) -> Config {
    Config {
        memory_limit,
        ..Config::default()
    }
}

// One test function: the memory count is shared by the threads of this binary (without the `std` feature), so
// nothing else may run while the held bytes are compared.
#[test]
fn the_quick_paths_are_the_general_ones() {
    for_over_range_is_the_loop_over_its_list();
    index_of_a_local_is_the_general_index();
}

fn for_over_range_is_the_loop_over_its_list() {
    let big = 1 << 20;
    let ints = "for i in range(3, 6) { print(i) }\nfor i in range(3) { print(i) }\n\
                for i in range(2, nil) { print(i) }\nfor i in range(2, 1) { print(i) }";
    assert_eq!(run(limit(big), ints).unwrap(), "3\n4\n5\n0\n1\n2\n0\n1\n");
    let f = "fn f(n) { print(\"f\"); return n }\nfor i in range(f(2)) { print(i) }";
    assert_eq!(run(limit(big), f).unwrap(), "f\n0\n1\n");
    let stop = "for i in range(10) { if i == 2 { break }; print(i) }";
    assert_eq!(run(limit(big), stop).unwrap(), "0\n1\n");
    assert_eq!(
        run(limit(big), "\nfor i in range(\"a\") {}").unwrap_err(),
        "t.bs:2:10: error: expected an int, not str"
    );
    assert_eq!(
        run(limit(big), "for i in range(1, 2, 3) {}").unwrap_err(),
        "t.bs:1:10: error: too many arguments to range"
    );
    // The list's 100 items are held while the loop runs (32 bytes each), and no longer after it.
    let before = held_bytes();
    assert_eq!(
        run(limit(4000), "for i in range(200) {}").unwrap_err(),
        "t.bs:1:10: error: out of memory: the script holds too much"
    );
    assert_eq!(
        run(limit(4000), "for i in range(100) { let l = range(30) }").unwrap_err(),
        "t.bs:1:31: error: out of memory: the script holds too much"
    );
    assert_eq!(
        run(
            limit(4000),
            "for i in range(100) {}\nlet l = range(100)\nprint(len(l))"
        )
        .unwrap(),
        "100\n"
    );
    assert_eq!(held_bytes(), before);
}

/// `x[i]` of a local list or map takes a path of its own too.
fn index_of_a_local_is_the_general_index() {
    let script = "fn f() {\n    let l = [10, 20, 30]\n    let m = {a: 1}\n    let k = \"a\"\n    let z = \"z\"\n\
                  let i = -1\n    let g = fn() { return l }\n    print(l[0], l[i], m[k], m[z], g()[1])\n\
                  try { print(m[i]) } catch e { print(e) }\n    i = 3\n    return l[i]\n}\nf()";
    assert_eq!(
        run(limit(1 << 20), script).unwrap_err(),
        "t.bs:11:12: error: index out of range"
    );
    let script = "fn f() { let l = [10, 20]; let i = -2; let k = \"x\"; let m = {x: 5}; print(l[i], m[k]) }\nf()";
    assert_eq!(run(limit(1 << 20), script).unwrap(), "10 5\n");
}
