// Drives unofficial-nest-api 0.1.4, as released, against a Roost server.
//
//   node una_driver.js CLIENT_JS PACKAGE_JSON
//
// CLIENT_JS is the release's index.js with only its sign-in host and port changed (the test
// makes that copy); PACKAGE_JSON is the release's package.json. Commands arrive one JSON
// object per line on stdin; events leave one JSON object per line on stdout. The client
// reports the end of its writes only by logging ("Set temperature"), so its console.log
// lines are passed on as {"log": ...} events.
'use strict';

const readline = require('readline');
const util = require('util');

const nest = require(process.argv[2]);
const pkg = require(process.argv[3]);

function emit(event) {
    process.stdout.write(JSON.stringify(event) + '\n');
}

console.log = function () {
    emit({log: util.format.apply(util, arguments)});
};

process.on('uncaughtException', function (err) {
    emit({crash: String(err && err.stack || err)});
    process.exit(1);
});

let subscribed = null;  // the bucket types of the running subscribe loop

// The loop of the package's own example (example/app.js): subscribe, report what came back,
// subscribe again; at once rather than after its two-second pause.
function subscribe() {
    emit({subscribing: subscribed});
    nest.subscribe(function (id, data, type) {
        if (id) {
            emit({changed: {type: type, id: id, data: data}});
        } else {
            emit({nothing: true});
        }
        setImmediate(subscribe);
    }, subscribed);
}

const commands = {
    login: function (c) {
        nest.login(c.username, c.password, function (err, session) {
            if (err) {
                emit({refused: 'login', message: err.message});
                return;
            }
            const transport = session.urls.transport_url;  // parsed by the client
            emit({login: {userid: session.userid, user: session.user,
                          transport: {protocol: transport.protocol, hostname: transport.hostname,
                                      port: transport.port}}});
        });
    },
    status: function () {
        nest.fetchStatus(function (data) {
            emit({status: data, device_ids: nest.getDeviceIds(),
                  structure_ids: nest.getStructureIds()});
        });
    },
    subscribe: function (c) {
        subscribed = c.types;
        subscribe();
    },
    set_temperature: function (c) {
        nest.setTemperature(c.device, c.value);
    },
    set_away: function (c) {
        nest.setAway(c.away);
    },
    exit: function () {
        process.exit(0);
    }
};

emit({ready: {client: pkg.name, version: pkg.version}});
readline.createInterface({input: process.stdin}).on('line', function (line) {
    const command = JSON.parse(line);
    commands[command.do](command);
});
