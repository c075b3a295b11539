// Every code sample of RealtimeKit's "Manage other participants in a
// session" page (shared/realtimekit-host-controls.txt), as it is there, in
// the page's order, with its line breaks put back. What this file adds:
// the line that creates `meeting` (gavel's instead of RealtimeKit's), the
// declarations of what the page leaves to its reader (GAVEL_TOKEN, where
// the token comes from; targetParticipantId, which a sample compares with),
// and one exported function per section around its samples, so that the
// tests run them in order (and `return` in a sample has a function to
// return from). tsc type-checks it against gavel.d.ts; the Chromium tests
// run it against gavel.js as a host and as an attendee.
import { GavelClient } from "./gavel.js";

declare const GAVEL_TOKEN: string;

const meeting = await GavelClient.init({ authToken: GAVEL_TOKEN }); await meeting.join();

// Retrieve a participant.
const joinedParticipants = meeting.participants.joined.toArray();
const participant = joinedParticipants[0];
if (!participant) {
  // No remote participants are currently joined.
}
const targetParticipantId = participant.id;

export async function muteAudio() {
  const canMuteAudio =
    meeting.self.permissions.canDisableParticipantAudio === true;
  if (!canMuteAudio) {
    // Disable the control in your UI.
  }

  try {
    await participant.disableAudio();
  } catch (err: any) {
    if (err?.code === 1201) {
      // The local participant does not have permission to mute other participants’ audio.
      return;
    }
    throw err;
  }

  participant.on("audioUpdate", ({ audioEnabled, audioTrack }) => {
    // audioEnabled is false
    // Update UI for the participant
  });

  meeting.participants.joined.on(
    "audioUpdate",
    (participant, { audioEnabled, audioTrack }) => {
      if (participant.id === targetParticipantId) {
        // audioEnabled is false
        // Update UI for the participant
      }
    },
  );
}

export async function muteAllAudio() {
  try {
    await meeting.participants.disableAllAudio();
  } catch (err: any) {
    if (err?.code === 1201) {
      // The local participant does not have permission to mute other participants’ audio.
      return;
    }
    throw err;
  }

  meeting.participants.joined.on(
    "audioUpdate",
    (participant, { audioEnabled, audioTrack }) => {
      // audioEnabled is false
      // Update UI for the participant
    },
  );

  meeting.self.on("audioUpdate", ({ audioEnabled, audioTrack }) => {
    // audioEnabled is false
    // Update UI for the local participant
  });
}

export async function disableVideo() {
  const canDisableVideo =
    meeting.self.permissions.canDisableParticipantVideo === true;
  if (!canDisableVideo) {
    // Disable the control in your UI.
  }

  try {
    await participant.disableVideo();
  } catch (err: any) {
    if (err?.code === 1201) {
      // The local participant does not have permission to disable other participants’ video.
      return;
    }
    throw err;
  }

  participant.on("videoUpdate", ({ videoEnabled, videoTrack }) => {
    // videoEnabled is false
    // Update UI for the participant
  });

  meeting.participants.joined.on(
    "videoUpdate",
    (participant, { videoEnabled, videoTrack }) => {
      // videoEnabled is false
      // Update UI for the participant
    },
  );
}

export async function disableAllVideo() {
  try {
    await meeting.participants.disableAllVideo();
  } catch (err: any) {
    if (err?.code === 1201) {
      // The local participant does not have permission to disable other participants’ video.
      return;
    }
    throw err;
  }

  meeting.participants.joined.on(
    "videoUpdate",
    (participant, { videoEnabled, videoTrack }) => {
      // videoEnabled is false
      // Update UI for the participant
    },
  );

  meeting.self.on("videoUpdate", ({ videoEnabled, videoTrack }) => {
    // videoEnabled is false
    // Update UI for the local participant
  });
}

export async function pin() {
  const canPinParticipant = meeting.self.permissions.pinParticipant === true;
  if (!canPinParticipant) {
    // Disable the control in your UI.
  }

  try {
    await participant.pin();
  } catch (err: any) {
    if (err?.code === 1201) {
      // The local participant does not have permission to pin participants.
      return;
    }
    throw err;
  }

  participant.on("pinned", (updatedParticipant) => {
    // updatedParticipant.isPinned is true
    // Update your UI.
  });

  meeting.participants.joined.on("pinned", (updatedParticipant) => {
    // updatedParticipant.isPinned is true
    // Update your UI.
  });

  meeting.self.on("pinned", (selfParticipant) => {
    // Update the local UI to indicate the participant is pinned.
  });
}

export async function unpin() {
  const canUnpinParticipant = meeting.self.permissions.pinParticipant === true;
  if (!canUnpinParticipant) {
    // Disable the control in your UI.
  }

  try {
    await participant.unpin();
  } catch (err: any) {
    if (err?.code === 1201) {
      // The local participant does not have permission to unpin participants.
      return;
    }
    throw err;
  }

  participant.on("unpinned", (updatedParticipant) => {
    // updatedParticipant.isPinned is false
    // Update your UI.
  });

  meeting.participants.joined.on("unpinned", (updatedParticipant) => {
    // updatedParticipant.isPinned is false
    // Update your UI.
  });

  meeting.self.on("unpinned", (selfParticipant) => {
    // Update the local UI to indicate the participant is no longer pinned.
  });
}

export async function kick() {
  const canKickParticipant = meeting.self.permissions.kickParticipant === true;
  if (!canKickParticipant) {
    // Disable the control in your UI.
  }

  try {
    await participant.kick();
  } catch (err: any) {
    if (err?.code === 1201) {
      // The local participant does not have permission to remove participants.
      return;
    }
    throw err;
  }

  meeting.participants.joined.on("participantLeft", (participant) => {
    // Remove the participant tile from the UI.
  });

  meeting.self.on("roomLeft", ({ state }) => {
    if (state === "kicked") {
      // Show a message and navigate the user out of the meeting UI.
    }
  });
}

export async function kickAll() {
  try {
    await meeting.participants.kickAll();
  } catch (err: any) {
    if (err?.code === 1201) {
      // The local participant does not have permission to remove participants.
      return;
    }
    throw err;
  }

  meeting.self.on("roomLeft", ({ state }) => {
    if (state === "ended") {
      // Show a message and navigate the user out of the meeting UI.
    }
  });
}

export { meeting };
