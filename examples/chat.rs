//! A line-based chat server on braid's event loop: every line a client sends goes to all the
//! other clients.
//!
//! ```text
//! cargo run --example chat                  # listens on 127.0.0.1:7070
//! nc 127.0.0.1 7070                         # in two or more other terminals; type lines
//! ```
//!
//! Each client has an outbox, a bounded async `Queue` of lines, and two tasks joined in a
//! `TaskGroup`: one reads the client's lines and puts them in everyone else's outbox, the
//! other writes the client's outbox to its socket. When either ends — the client hung up, or
//! its socket failed — the group cancels the other. A client too slow to keep up loses
//! lines rather than slowing everyone down. It runs until it is stopped (Ctrl-C).

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;

use braid::executor::net::{TcpListener, TcpStream};
use braid::executor::sync::Queue;
use braid::executor::{run, spawn, TaskGroup};
use examples::cli::Args;
use futures::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// How many lines may wait for a slow client before it starts missing some.
const OUTBOX_LINES: usize = 100;

/// Who is connected: each client's number and outbox. Everything runs on one thread, so an
/// `Rc<RefCell<..>>` is all the sharing needed — and no borrow is held across an `.await`.
#[derive(Default)]
struct Room {
    outboxes: RefCell<HashMap<u64, Rc<Queue<Rc<str>>>>>,
}

impl Room {
    /// Puts `line` in every outbox but `from`'s, without waiting for anyone.
    fn broadcast(&self, from: u64, line: &str) {
        let line: Rc<str> = Rc::from(line);
        for (&id, outbox) in self.outboxes.borrow().iter() {
            if id != from {
                // Full means that client is not reading: it misses this line.
                let _ = outbox.try_put(Rc::clone(&line));
            }
        }
    }
}

fn main() {
    let mut args = Args::from_env("chat [ADDRESS]   (default 127.0.0.1:7070)");
    let addr: SocketAddr = args.next_or("ADDRESS", SocketAddr::from(([127, 0, 0, 1], 7070)));
    args.finish();

    if let Err(error) = run(serve(addr)) {
        eprintln!("chat: {error}");
        std::process::exit(1);
    }
}

async fn serve(addr: SocketAddr) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!("listening on {}", listener.local_addr()?);
    let room = Rc::new(Room::default());
    for id in 1.. {
        let (stream, peer) = listener.accept().await?;
        let room = Rc::clone(&room);
        spawn(async move {
            let outcome = client(&room, id, stream).await;
            room.outboxes.borrow_mut().remove(&id);
            room.broadcast(id, &format!("* guest{id} left\n"));
            match outcome {
                Ok(()) => println!("guest{id} ({peer}) left"),
                Err(error) => println!("guest{id} ({peer}) dropped: {error}"),
            }
        })
        .detach();
    }
    Ok(())
}

async fn client(room: &Rc<Room>, id: u64, stream: TcpStream) -> io::Result<()> {
    let stream = Rc::new(stream);
    let outbox = Rc::new(Queue::new(OUTBOX_LINES));
    let online = {
        let mut outboxes = room.outboxes.borrow_mut();
        outboxes.insert(id, Rc::clone(&outbox));
        outboxes.len()
    };
    // Queued first, so the welcome is the first line the client sees.
    let _ = outbox.try_put(Rc::from(format!("welcome, guest{id}: {online} online\n")));
    room.broadcast(id, &format!("* guest{id} joined\n"));

    let group = TaskGroup::new();
    group.spawn({
        let (room, stream) = (Rc::clone(room), Rc::clone(&stream));
        async move {
            // `&TcpStream` reads, so the writer can hold the same socket at the same time.
            let mut lines = BufReader::new(&*stream).lines();
            while let Some(line) = futures::StreamExt::next(&mut lines).await {
                room.broadcast(id, &format!("guest{id}: {}\n", line?.trim_end()));
            }
            // The client hung up: the error ends the group, which cancels the writer.
            Err(io::Error::new(io::ErrorKind::UnexpectedEof, "hung up"))
        }
    });
    group.spawn(async move {
        let mut writer = &*stream;
        while let Ok(line) = outbox.get().await {
            writer.write_all(line.as_bytes()).await?;
        }
        Ok(())
    });
    match group.join().await {
        Err(error) => match error.into_failure() {
            Some(error) if error.kind() == io::ErrorKind::UnexpectedEof => Ok(()),
            Some(error) => Err(error),
            None => Err(io::Error::other("a client task panicked")),
        },
        Ok(_) => Ok(()),
    }
}
