<?php
/**
 * The person view's sections, drawn from the daemon's lookup answer (services.person_view):
 * what each system holds, what erasure would do and keep (clause and until when), the dry run,
 * open requests and tasks, the audit trail, the last residue scan, consent history when the
 * daemon sends it, and the actions. Every value is escaped; no email is ever in the answer.
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

/**
 * Renders one person.
 */
class Wpprivsync_Admin_Person_View {

	/**
	 * A value the daemon sent, in a few words (nested lists and maps flattened).
	 *
	 * @param mixed $value Value.
	 * @param int   $depth Nesting so far.
	 * @return string
	 */
	public static function words( $value, $depth = 0 ) {
		if ( null === $value || '' === $value ) {
			return '—';
		}
		if ( is_bool( $value ) ) {
			return $value ? __( 'yes', 'wpprivsync' ) : __( 'no', 'wpprivsync' );
		}
		if ( ! is_array( $value ) ) {
			return (string) $value;
		}
		if ( $depth > 2 ) {
			return '…';
		}
		$parts = array();
		foreach ( $value as $k => $v ) {
			$text    = self::words( $v, $depth + 1 );
			$parts[] = is_int( $k ) ? $text : $k . ': ' . $text;
		}
		return $parts ? implode( '; ', $parts ) : '—';
	}

	/**
	 * A table of rows with the given columns.
	 *
	 * @param string  $id      Element id.
	 * @param array   $columns key => header.
	 * @param array[] $rows    Rows.
	 * @param string  $empty   Text when there are none.
	 */
	private static function table( $id, array $columns, array $rows, $empty ) {
		echo '<div class="wpprivsync-scroll" id="' . esc_attr( $id ) . '">';
		if ( ! $rows ) {
			echo '<p class="wpprivsync-empty">' . esc_html( $empty ) . '</p></div>';
			return;
		}
		echo '<table class="widefat striped"><thead><tr>';
		foreach ( $columns as $header ) {
			echo '<th scope="col">' . esc_html( $header ) . '</th>';
		}
		echo '</tr></thead><tbody>';
		foreach ( $rows as $row ) {
			echo '<tr>';
			foreach ( array_keys( $columns ) as $key ) {
				$value = is_array( $row ) ? ( $row[ $key ] ?? null ) : null;
				$text  = ( 'at' === $key || '_at' === substr( $key, -3 ) ) && is_string( $value ) ? Wpprivsync_Admin_Tabs::when( $value ) : self::words( $value );
				echo '<td data-col="' . esc_attr( $key ) . '">' . esc_html( $text ) . '</td>';
			}
			echo '</tr>';
		}
		echo '</tbody></table></div>';
	}

	/**
	 * Renders the answer.
	 *
	 * @param array $answer The daemon's answer.
	 */
	public static function render( array $answer ) {
		$explain = isset( $answer['explain'] ) && is_array( $answer['explain'] ) ? $answer['explain'] : array();
		$hash    = (string) ( $answer['email_hash'] ?? '' );
		echo '<h3>' . esc_html__( 'Person', 'wpprivsync' ) . ' <code id="wpprivsync-person-hash">' . esc_html( substr( $hash, 0, 12 ) ) . '</code></h3>';
		if ( ! empty( $answer['looked_up_at'] ) ) {
			/* translators: %s: date and time. */
			echo '<p>' . esc_html( sprintf( __( 'Looked up %s.', 'wpprivsync' ), Wpprivsync_Admin_Tabs::when( $answer['looked_up_at'] ) ) ) . '</p>';
		}
		if ( ! empty( $answer['explain_error'] ) ) {
			/* translators: %s: error text. */
			echo '<p class="notice notice-error inline" id="wpprivsync-person-error">' . esc_html( sprintf( __( 'Some systems could not be asked: %s', 'wpprivsync' ), (string) $answer['explain_error'] ) ) . '</p>';
		}
		if ( isset( $explain['suppressed'] ) ) {
			echo '<p id="wpprivsync-person-suppressed">' . esc_html( $explain['suppressed'] ? __( 'On the suppression list: never re-subscribed.', 'wpprivsync' ) : __( 'Not on the suppression list.', 'wpprivsync' ) ) . '</p>';
		}

		echo '<h3>' . esc_html__( 'What each system holds now, and what erasure would do', 'wpprivsync' ) . '</h3>';
		self::table(
			'wpprivsync-person-systems',
			array(
				'system'     => __( 'System', 'wpprivsync' ),
				'holds'      => __( 'Holds', 'wpprivsync' ),
				'on_erasure' => __( 'On erasure', 'wpprivsync' ),
				'rule'       => __( 'Policy', 'wpprivsync' ),
			),
			(array) ( $explain['systems'] ?? array() ),
			__( 'Nothing was reported.', 'wpprivsync' )
		);

		echo '<h3>' . esc_html__( 'What erasure would keep', 'wpprivsync' ) . '</h3>';
		self::table(
			'wpprivsync-person-kept',
			array(
				'system' => __( 'System', 'wpprivsync' ),
				'what'   => __( 'What', 'wpprivsync' ),
				'until'  => __( 'Until', 'wpprivsync' ),
				'why'    => __( 'Why (clause)', 'wpprivsync' ),
			),
			(array) ( $explain['kept'] ?? array() ),
			__( 'Nothing would be kept.', 'wpprivsync' )
		);
		if ( ! empty( $explain['unmanaged'] ) ) {
			echo '<ul id="wpprivsync-person-unmanaged">';
			foreach ( (array) $explain['unmanaged'] as $line ) {
				echo '<li>' . esc_html( self::words( $line ) ) . '</li>';
			}
			echo '</ul>';
		}

		echo '<h3>' . esc_html__( 'Dry run: what WordPress\'s erasers would touch', 'wpprivsync' ) . '</h3>';
		$touch = array();
		foreach ( (array) ( $explain['systems'] ?? array() ) as $system ) {
			if ( is_array( $system ) && 'wordpress' === ( $system['system'] ?? '' ) ) {
				foreach ( (array) ( $system['would_touch'] ?? array() ) as $eraser => $count ) {
					$touch[] = array(
						'eraser' => $eraser,
						'items'  => $count,
					);
				}
			}
		}
		self::table(
			'wpprivsync-person-dry-run',
			array(
				'eraser' => __( 'Eraser', 'wpprivsync' ),
				'items'  => __( 'Items', 'wpprivsync' ),
			),
			$touch,
			__( 'No WordPress eraser would find anything.', 'wpprivsync' )
		);

		echo '<h3>' . esc_html__( 'Requests and manual tasks', 'wpprivsync' ) . '</h3>';
		$requests = (array) ( $answer['requests'] ?? array() );
		$tasks    = array();
		foreach ( $requests as $req ) {
			foreach ( (array) ( $req['tasks'] ?? array() ) as $task ) {
				$tasks[] = $task;
			}
		}
		self::table(
			'wpprivsync-person-requests',
			array(
				'id'          => __( 'Request', 'wpprivsync' ),
				'action'      => __( 'Action', 'wpprivsync' ),
				'status'      => __( 'Status', 'wpprivsync' ),
				'received_at' => __( 'Received', 'wpprivsync' ),
				'due_at'      => __( 'Due', 'wpprivsync' ),
				'systems'     => __( 'Systems', 'wpprivsync' ),
			),
			$requests,
			__( 'No requests.', 'wpprivsync' )
		);
		self::table(
			'wpprivsync-person-tasks',
			array(
				'id'      => __( 'Task', 'wpprivsync' ),
				'system'  => __( 'System', 'wpprivsync' ),
				'what'    => __( 'What to do', 'wpprivsync' ),
				'due_at'  => __( 'Due', 'wpprivsync' ),
				'overdue' => __( 'Overdue', 'wpprivsync' ),
			),
			$tasks,
			__( 'No open tasks.', 'wpprivsync' )
		);

		echo '<h3>' . esc_html__( 'Audit trail', 'wpprivsync' ) . '</h3>';
		self::table(
			'wpprivsync-person-audit',
			array(
				'at'             => __( 'When', 'wpprivsync' ),
				'system'         => __( 'System', 'wpprivsync' ),
				'action'         => __( 'Action', 'wpprivsync' ),
				'removed'        => __( 'Removed', 'wpprivsync' ),
				'retained'       => __( 'Retained', 'wpprivsync' ),
				'retained_until' => __( 'Retained until', 'wpprivsync' ),
				'reason'         => __( 'Reason', 'wpprivsync' ),
			),
			(array) ( $answer['audit'] ?? array() ),
			__( 'Nothing audited yet.', 'wpprivsync' )
		);

		echo '<h3>' . esc_html__( 'Last residue scan', 'wpprivsync' ) . '</h3>';
		$scan = class_exists( 'Wpprivsync_Residue_Scan' ) && '' !== $hash ? Wpprivsync_Residue_Scan::latest_for_hash( $hash ) : null;
		echo '<div id="wpprivsync-person-residue">';
		if ( ! is_array( $scan ) ) {
			echo '<p class="wpprivsync-empty">' . esc_html__( 'No scan yet.', 'wpprivsync' ) . '</p>';
		} else {
			/* translators: 1: date and time, 2: open residues, 3: retained items. */
			echo '<p>' . esc_html( sprintf( __( 'Scanned %1$s: %2$d open, %3$d retained.', 'wpprivsync' ), Wpprivsync_Admin_Tabs::when( $scan['scanned_at'] ?? '' ), (int) ( $scan['open'] ?? 0 ), (int) ( $scan['retained'] ?? 0 ) ) ) . '</p>';
			echo '<ul>';
			foreach ( (array) ( $scan['items'] ?? array() ) as $item ) {
				echo '<li>' . esc_html( self::words( $item ) ) . '</li>';
			}
			echo '</ul>';
		}
		echo '</div>';

		$consent = $answer['consent_history'] ?? ( $explain['consent_history'] ?? ( $explain['consent'] ?? null ) );
		if ( is_array( $consent ) ) {
			echo '<h3>' . esc_html__( 'Consent history', 'wpprivsync' ) . '</h3>';
			echo '<ul id="wpprivsync-person-consent">';
			foreach ( $consent as $entry ) {
				echo '<li>' . esc_html( self::words( $entry ) ) . '</li>';
			}
			echo '</ul>';
		}

		self::actions( $answer );
	}

	/**
	 * The actions, each with the dry run above; the email is typed again (it is not kept).
	 *
	 * @param array $answer The daemon's answer.
	 */
	private static function actions( array $answer ) {
		echo '<h3>' . esc_html__( 'Actions', 'wpprivsync' ) . '</h3>';
		echo '<p class="description">' . esc_html__( 'The page does not keep the email: type it again to act. The daemon carries the action out and lists it under Requests.', 'wpprivsync' ) . '</p>';
		echo '<div id="wpprivsync-person-actions">';
		$forms = array(
			'wpprivsync_erase'           => __( 'Erase everywhere', 'wpprivsync' ),
			'wpprivsync_export'          => __( 'Export everywhere', 'wpprivsync' ),
			'wpprivsync_remove_comments' => __( 'Remove comments', 'wpprivsync' ),
		);
		foreach ( $forms as $action => $label ) {
			if ( ! Wpprivsync_Admin_Caps::can( $action ) ) {
				continue;
			}
			$id = 'wpprivsync-person-' . str_replace( '_', '-', substr( $action, 11 ) );
			echo '<form method="post" action="' . esc_url( admin_url( 'admin-post.php' ) ) . '" id="' . esc_attr( $id ) . '" class="wpprivsync-form">';
			echo '<input type="hidden" name="action" value="' . esc_attr( $action ) . '" />';
			wp_nonce_field( $action );
			echo '<label class="screen-reader-text" for="' . esc_attr( $id . '-email' ) . '">' . esc_html__( 'Email', 'wpprivsync' ) . '</label>';
			echo '<input type="email" required name="email" id="' . esc_attr( $id . '-email' ) . '" class="regular-text" autocomplete="off" placeholder="' . esc_attr__( 'person@example.com', 'wpprivsync' ) . '" /> ';
			echo '<button type="submit" class="button">' . esc_html( $label ) . '</button></form> ';
		}
		/**
		 * More actions on the person view (e.g. restricting processing).
		 *
		 * @param array $answer The daemon's lookup answer (keyed hash, no email).
		 */
		do_action( 'wpprivsync_person_actions', $answer );
		echo '</div>';
	}
}
