<?php
/**
 * The daemon's REST API, wpprivsync/v1 (docs/PROTOCOL.md).
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

/**
 * Routes for the daemon; all require the wpprivsync_sync capability.
 */
class Wpprivsync_Rest {

	/** Most emails one POST /erase/batch takes. */
	const ERASE_BATCH_MAX = 25;

	/** Bytes of undocumented heartbeat keys kept (JSON). */
	const HEARTBEAT_EXTRA_MAX = 65536;

	/**
	 * Registers every route.
	 */
	public static function register_routes() {
		$ns = Wpprivsync_Plugin::REST_NAMESPACE;
		$pc = array( __CLASS__, 'can_sync' );

		register_rest_route(
			$ns,
			'/events',
			array(
				'methods'             => WP_REST_Server::READABLE,
				'callback'            => array( __CLASS__, 'get_events' ),
				'permission_callback' => $pc,
				'args'                => self::event_page_args(),
			)
		);
		register_rest_route(
			$ns,
			'/events/ack',
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( __CLASS__, 'ack_events' ),
				'permission_callback' => $pc,
				'args'                => self::ack_args( true ),
			)
		);
		register_rest_route(
			$ns,
			'/events/pull',
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( __CLASS__, 'pull_events' ),
				'permission_callback' => $pc,
				'args'                => self::event_page_args() + self::ack_args( false ),
			)
		);
		register_rest_route(
			$ns,
			'/erase',
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( __CLASS__, 'erase' ),
				'permission_callback' => $pc,
				'args'                => array(
					'email'   => self::email_arg(),
					'dry_run' => array(
						'type'    => 'boolean',
						'default' => false,
					),
				) + self::erase_option_args(),
			)
		);
		register_rest_route(
			$ns,
			'/erase/batch',
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( __CLASS__, 'erase_batch' ),
				'permission_callback' => $pc,
				'args'                => array(
					'emails' => array(
						'description'       => __( 'Up to 25 emails, each erased as by /erase (one WordPress start-up for all).', 'wpprivsync' ),
						'type'              => 'array',
						'required'          => true,
						'minItems'          => 1,
						'maxItems'          => self::ERASE_BATCH_MAX,
						'items'             => array(
							'type'      => 'string',
							'maxLength' => 254,
						),
						'validate_callback' => array( __CLASS__, 'validate_emails' ),
						'sanitize_callback' => array( __CLASS__, 'sanitize_emails' ),
					),
				) + self::erase_option_args(),
			)
		);
		register_rest_route(
			$ns,
			'/export',
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( __CLASS__, 'export' ),
				'permission_callback' => $pc,
				'args'                => array(
					'email'  => self::email_arg(),
					'page'   => array(
						'type'    => 'integer',
						'minimum' => 1,
						'maximum' => 100000,
						'default' => 1,
					),
					'cursor' => array(
						'description' => __( 'The previous page\'s "next"; absent for the first page.', 'wpprivsync' ),
						'type'        => 'string',
						'maxLength'   => 300,
					),
				),
			)
		);
		register_rest_route(
			$ns,
			'/comments/remove',
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( __CLASS__, 'remove_comments' ),
				'permission_callback' => $pc,
				'args'                => array(
					'email'   => self::email_arg(),
					'dry_run' => array(
						'type'    => 'boolean',
						'default' => false,
					),
				),
			)
		);
		register_rest_route(
			$ns,
			'/consent',
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( __CLASS__, 'set_consent' ),
				'permission_callback' => $pc,
				'args'                => array(
					'email'      => self::email_arg(),
					'subscribed' => array(
						'type'     => 'boolean',
						'required' => true,
					),
				),
			)
		);
		register_rest_route(
			$ns,
			'/consents',
			array(
				'methods'             => WP_REST_Server::READABLE,
				'callback'            => array( __CLASS__, 'get_consents' ),
				'permission_callback' => $pc,
				'args'                => self::paging_args(),
			)
		);
		register_rest_route(
			$ns,
			'/orders',
			array(
				'methods'             => WP_REST_Server::READABLE,
				'callback'            => array( __CLASS__, 'get_orders' ),
				'permission_callback' => $pc,
				'args'                => array(
					'email'    => array_merge( self::email_arg(), array( 'required' => false ) ),
					'before'   => array(
						'type'              => 'string',
						'validate_callback' => array( __CLASS__, 'validate_date' ),
					),
					'page'     => array(
						'type'    => 'integer',
						'minimum' => 1,
						'default' => 1,
					),
					'per_page' => array(
						'type'    => 'integer',
						'minimum' => 1,
						'maximum' => 500,
						'default' => 100,
					),
				),
			)
		);
		register_rest_route(
			$ns,
			'/requests/scrub',
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( __CLASS__, 'scrub_requests' ),
				'permission_callback' => $pc,
				'args'                => array(
					'older_than_days' => array(
						'type'     => 'integer',
						'required' => true,
						'minimum'  => 0,
						'maximum'  => 3650,
					),
				),
			)
		);
		register_rest_route(
			$ns,
			'/orders/anonymize',
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( __CLASS__, 'anonymize_orders' ),
				'permission_callback' => $pc,
				'args'                => array(
					'order_ids' => array(
						'type'     => 'array',
						'required' => true,
						'minItems' => 1,
						'maxItems' => 500,
						'items'    => array(
							'type'    => 'integer',
							'minimum' => 1,
						),
					),
				),
			)
		);
		register_rest_route(
			$ns,
			'/retention',
			array(
				array(
					'methods'             => WP_REST_Server::READABLE,
					'callback'            => array( __CLASS__, 'get_retention' ),
					'permission_callback' => $pc,
				),
				array(
					'methods'             => WP_REST_Server::CREATABLE,
					'callback'            => array( __CLASS__, 'set_retention' ),
					'permission_callback' => $pc,
					'args'                => array(
						'order_years'          => array(
							'type'     => 'integer',
							'required' => true,
							'minimum'  => 0,
							'maximum'  => 100,
						),
						'tax_year_start_month' => array(
							'type'    => 'integer',
							'minimum' => 1,
							'maximum' => 12,
							'default' => 1,
						),
					),
				),
			)
		);
		register_rest_route(
			$ns,
			'/heartbeat',
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( __CLASS__, 'heartbeat' ),
				'permission_callback' => $pc,
				'args'                => array(
					'version'    => array(
						'type'      => 'string',
						'required'  => true,
						'maxLength' => 64,
					),
					'queue'      => array(
						'type'    => 'integer',
						'minimum' => 0,
						'default' => 0,
					),
					'last_error' => array(
						'type'      => array( 'string', 'null' ),
						'maxLength' => 2000,
						'default'   => null,
					),
					'failed'     => array(
						'type'     => 'array',
						'default'  => array(),
						'maxItems' => 500,
						'items'    => array(
							'type'       => 'object',
							'properties' => array(
								'step_id'  => array( 'type' => 'integer' ),
								'system'   => array( 'type' => 'string' ),
								'action'   => array( 'type' => 'string' ),
								'error'    => array( 'type' => array( 'string', 'null' ) ),
								'attempts' => array( 'type' => 'integer' ),
							),
						),
					),
					'requests'   => array(
						'type'     => 'array',
						'default'  => array(),
						'maxItems' => 500,
						'items'    => array(
							'type'       => 'object',
							'properties' => array(
								'id'             => array( 'type' => array( 'integer', 'string' ) ),
								'action'         => array( 'type' => 'string' ),
								'email_hash'     => array( 'type' => 'string' ),
								'received_at'    => array( 'type' => array( 'string', 'null' ) ),
								'due_at'         => array( 'type' => array( 'string', 'null' ) ),
								'status'         => array( 'type' => 'string' ),
								'systems'        => array(
									'type'                 => 'object',
									'additionalProperties' => array( 'type' => 'string' ),
								),
								'retained_until' => array( 'type' => array( 'string', 'null' ) ),
								'export_url'     => array(
									'type'   => array( 'string', 'null' ),
									'format' => 'uri',
								),
							),
						),
					),
				),
			)
		);
		register_rest_route(
			$ns,
			'/exports',
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( __CLASS__, 'store_export' ),
				'permission_callback' => $pc,
				'args'                => array(
					'content' => array(
						'description' => __( 'The export archive (ZIP), base64-encoded.', 'wpprivsync' ),
						'type'        => 'string',
						'required'    => true,
						'minLength'   => 32,
						'maxLength'   => 28000000,
					),
				),
			)
		);
		register_rest_route(
			$ns,
			'/status',
			array(
				'methods'             => WP_REST_Server::READABLE,
				'callback'            => array( __CLASS__, 'status' ),
				'permission_callback' => $pc,
			)
		);
	}

	/**
	 * Arguments of a page of events: after an id, at most limit (1..Wpprivsync_Outbox::MAX_PAGE).
	 *
	 * @return array
	 */
	private static function event_page_args() {
		$args                     = self::paging_args();
		$args['limit']['maximum'] = Wpprivsync_Outbox::MAX_PAGE;
		return $args;
	}

	/**
	 * Arguments of an acknowledgement: event ids (at most a page of them) and the daemon's
	 * keyed hash of each event's email.
	 *
	 * @param bool $required Whether ids must be given (POST /events/ack) or may be absent
	 *                       (POST /events/pull with nothing to acknowledge).
	 * @return array
	 */
	private static function ack_args( $required ) {
		$ids = array(
			'type'     => 'array',
			'required' => $required,
			'minItems' => $required ? 1 : 0,
			'maxItems' => Wpprivsync_Outbox::MAX_PAGE,
			'items'    => array(
				'type'    => 'integer',
				'minimum' => 1,
			),
		);
		if ( ! $required ) {
			$ids['default'] = array(); // A default is checked against the schema too: none when required.
		}
		return array(
			'ids'    => $ids,
			'hashes' => array(
				'type'                 => 'object',
				'default'              => array(),
				'additionalProperties' => array(
					'type'    => 'string',
					'pattern' => '^[0-9a-fA-F]{16,128}$',
				),
			),
		);
	}

	/**
	 * Paging arguments of the list routes: after an id, at most limit (1..500) items.
	 *
	 * @return array
	 */
	private static function paging_args() {
		return array(
			'after' => array(
				'type'    => 'integer',
				'minimum' => 0,
				'default' => 0,
			),
			'limit' => array(
				'type'    => 'integer',
				'minimum' => 1,
				'maximum' => 500,
				'default' => 100,
			),
		);
	}

	/**
	 * Options shared by /erase and /erase/batch.
	 *
	 * @return array
	 */
	private static function erase_option_args() {
		return array(
			'exclude'        => array(
				'description' => __( 'Eraser ids to skip.', 'wpprivsync' ),
				'type'        => 'array',
				'default'     => array(),
				'items'       => array(
					'type'    => 'string',
					'pattern' => '^[A-Za-z0-9_.:-]{1,100}$',
				),
			),
			'delete_account' => array(
				'description' => __( 'Also delete the WordPress account with this email (core erasers leave accounts alone).', 'wpprivsync' ),
				'type'        => 'boolean',
				'default'     => true,
			),
		);
	}

	/**
	 * An email argument: required, validated, normalised.
	 *
	 * @return array
	 */
	private static function email_arg() {
		return array(
			'type'              => 'string',
			'required'          => true,
			'maxLength'         => 254,
			'validate_callback' => array( __CLASS__, 'validate_email' ),
			'sanitize_callback' => array( 'Wpprivsync_Plugin', 'normalise_email' ),
		);
	}

	/**
	 * Validates an email argument (type first, then shape).
	 *
	 * @param mixed           $value   Value.
	 * @param WP_REST_Request $request Request.
	 * @param string          $param   Name.
	 * @return true|WP_Error
	 */
	public static function validate_email( $value, $request, $param ) {
		$valid = rest_validate_request_arg( $value, $request, $param );
		if ( is_wp_error( $valid ) ) {
			return $valid;
		}
		if ( ! is_email( Wpprivsync_Plugin::normalise_email( $value ) ) ) {
			/* translators: %s: parameter name. */
			return new WP_Error( 'rest_invalid_email', sprintf( __( '%s is not a valid email address.', 'wpprivsync' ), $param ) );
		}
		return true;
	}

	/**
	 * Validates a Y-m-d date argument.
	 *
	 * @param mixed           $value   Value.
	 * @param WP_REST_Request $request Request.
	 * @param string          $param   Name.
	 * @return true|WP_Error
	 */
	public static function validate_date( $value, $request, $param ) {
		$valid = rest_validate_request_arg( $value, $request, $param );
		if ( is_wp_error( $valid ) ) {
			return $valid;
		}
		$parsed = is_string( $value ) ? DateTimeImmutable::createFromFormat( '!Y-m-d', $value ) : false;
		if ( ! $parsed || $parsed->format( 'Y-m-d' ) !== $value ) {
			/* translators: %s: parameter name. */
			return new WP_Error( 'rest_invalid_date', sprintf( __( '%s must be a date as YYYY-MM-DD.', 'wpprivsync' ), $param ) );
		}
		return true;
	}

	/**
	 * Permission: the wpprivsync_sync capability (401 anonymous, 403 without it).
	 *
	 * @return true|WP_Error
	 */
	public static function can_sync() {
		if ( current_user_can( Wpprivsync_Plugin::CAPABILITY ) ) {
			return true;
		}
		if ( ! is_user_logged_in() ) {
			return new WP_Error( 'rest_not_logged_in', __( 'You are not currently logged in.', 'wpprivsync' ), array( 'status' => rest_authorization_required_code() ) );
		}
		return new WP_Error( 'rest_forbidden', __( 'Sorry, you are not allowed to do that.', 'wpprivsync' ), array( 'status' => rest_authorization_required_code() ) );
	}

	/**
	 * 501 woocommerce_missing when WooCommerce is not active.
	 *
	 * @return WP_Error|null
	 */
	private static function require_woocommerce() {
		if ( Wpprivsync_Plugin::woocommerce_active() ) {
			return null;
		}
		return new WP_Error( 'woocommerce_missing', __( 'WooCommerce is not active on this site.', 'wpprivsync' ), array( 'status' => 501 ) );
	}

	/**
	 * GET /events.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response
	 */
	public static function get_events( WP_REST_Request $request ) {
		$after  = (int) $request['after'];
		$events = Wpprivsync_Outbox::pending_after( $after, (int) $request['limit'] );
		$last   = $events ? end( $events )['id'] : $after;
		return rest_ensure_response(
			array(
				'events'  => $events,
				'last_id' => $last,
				'pending' => Wpprivsync_Outbox::pending_count( $last ),
			)
		);
	}

	/**
	 * POST /events/ack.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response
	 */
	public static function ack_events( WP_REST_Request $request ) {
		$acked = self::acknowledge( $request );
		return is_wp_error( $acked ) ? $acked : rest_ensure_response( array( 'acked' => $acked ) );
	}

	/**
	 * POST /events/pull: acknowledges the page the daemon has recorded (ids and hashes, as
	 * POST /events/ack) and answers the next page (after, limit, as GET /events), so a backlog
	 * costs one request per page. An acknowledgement that is refused acknowledges nothing and
	 * answers no page.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function pull_events( WP_REST_Request $request ) {
		$acked = (array) $request['ids'] ? self::acknowledge( $request ) : 0;
		if ( is_wp_error( $acked ) ) {
			return $acked;
		}
		$answer          = self::get_events( $request )->get_data();
		$answer['acked'] = $acked;
		return rest_ensure_response( $answer );
	}

	/**
	 * Acknowledges the request's ids with its hashes. An id above the highest the outbox ever
	 * recorded is refused with all the others (nothing is acknowledged): the daemon only
	 * acknowledges what it pulled, so such an id is a mistake to report, not to skip. An id
	 * already acknowledged (or purged) is harmless.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return int|WP_Error How many events were newly acknowledged.
	 */
	private static function acknowledge( WP_REST_Request $request ) {
		$ids  = array_map( 'intval', (array) $request['ids'] );
		$last = Wpprivsync_Outbox::last_id();
		$over = array_values( array_filter( $ids, static fn( $id ) => $id > $last ) );
		if ( $over ) {
			return new WP_Error(
				'wpprivsync_unknown_events',
				/* translators: 1: the highest event id recorded, 2: the first ids that were never recorded. */
				sprintf( __( 'Nothing was acknowledged: the outbox never recorded an event above id %1$d (asked: %2$s).', 'wpprivsync' ), $last, implode( ', ', array_slice( $over, 0, 5 ) ) ),
				array(
					'status' => 400,
					'ids'    => array_slice( $over, 0, 100 ),
				)
			);
		}
		$hashes = array();
		foreach ( (array) $request['hashes'] as $id => $hash ) {
			$hashes[ (string) (int) $id ] = (string) $hash;
		}
		$acked = Wpprivsync_Outbox::ack( $ids, $hashes );
		Wpprivsync_Outbox::maybe_purge();
		return $acked;
	}

	/**
	 * POST /erase.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function erase( WP_REST_Request $request ) {
		$result = Wpprivsync_Privacy::erase( $request['email'], (bool) $request['dry_run'], array_map( 'strval', (array) $request['exclude'] ), (bool) $request['delete_account'] );
		return is_wp_error( $result ) ? $result : rest_ensure_response( $result );
	}

	/**
	 * POST /erase/batch: /erase for several people in one request; one result per email, in
	 * order (an email whose erasure failed gets its error instead).
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response
	 */
	public static function erase_batch( WP_REST_Request $request ) {
		$exclude = array_map( 'strval', (array) $request['exclude'] );
		$results = array();
		foreach ( (array) $request['emails'] as $email ) {
			$result = Wpprivsync_Privacy::erase( $email, false, $exclude, (bool) $request['delete_account'] );
			if ( is_wp_error( $result ) ) {
				$result = array(
					'email_hash' => Wpprivsync_Plugin::email_hash( $email ),
					'error'      => array(
						'code'    => $result->get_error_code(),
						'message' => $result->get_error_message(),
					),
				);
			}
			$results[] = $result;
		}
		return rest_ensure_response( array( 'results' => $results ) );
	}

	/**
	 * Validates a list of emails.
	 *
	 * @param mixed           $value   Value.
	 * @param WP_REST_Request $request Request.
	 * @param string          $param   Parameter name.
	 * @return true|WP_Error
	 */
	public static function validate_emails( $value, $request, $param ) {
		$valid = rest_validate_request_arg( $value, $request, $param );
		if ( is_wp_error( $valid ) ) {
			return $valid;
		}
		foreach ( (array) $value as $i => $email ) {
			if ( ! is_string( $email ) || ! is_email( Wpprivsync_Plugin::normalise_email( $email ) ) ) {
				/* translators: 1: parameter name, 2: position in the list. */
				return new WP_Error( 'rest_invalid_email', sprintf( __( '%1$s[%2$d] is not a valid email address.', 'wpprivsync' ), $param, $i ) );
			}
		}
		return true;
	}

	/**
	 * Normalises a list of emails.
	 *
	 * @param array $value Emails.
	 * @return string[]
	 */
	public static function sanitize_emails( $value ) {
		return array_map( array( 'Wpprivsync_Plugin', 'normalise_email' ), (array) $value );
	}

	/**
	 * POST /export: one page; the next page is asked for with this one's `next` as `cursor`.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function export( WP_REST_Request $request ) {
		$result = Wpprivsync_Privacy::export( $request['email'], (int) $request['page'], isset( $request['cursor'] ) ? (string) $request['cursor'] : null );
		return is_wp_error( $result ) ? $result : rest_ensure_response( $result );
	}

	/**
	 * POST /comments/remove.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response
	 */
	public static function remove_comments( WP_REST_Request $request ) {
		return rest_ensure_response( Wpprivsync_Privacy::remove_comments( $request['email'], (bool) $request['dry_run'] ) );
	}

	/**
	 * POST /consent.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function set_consent( WP_REST_Request $request ) {
		$user = get_user_by( 'email', $request['email'] );
		if ( ! $user ) {
			return new WP_Error( 'wpprivsync_no_user', __( 'No user has this email address.', 'wpprivsync' ), array( 'status' => 404 ) );
		}
		$subscribed = (bool) $request['subscribed'];
		$changed    = Wpprivsync_Outbox::muted(
			static function () use ( $user, $subscribed ) {
				return Wpprivsync_Consent::set( (int) $user->ID, $subscribed, 'daemon' );
			}
		);
		return rest_ensure_response(
			array(
				'user_id' => (int) $user->ID,
				'changed' => (bool) $changed,
			)
		);
	}

	/**
	 * GET /consents.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response
	 */
	public static function get_consents( WP_REST_Request $request ) {
		global $wpdb;
		$after = (int) $request['after'];
		// On multisite the users table is the network's: list only this site's members.
		$member = is_multisite() ? $wpdb->get_blog_prefix() . 'capabilities' : '';
		$rows   = $wpdb->get_results(
			$wpdb->prepare(
				"SELECT u.ID, u.user_email, MAX(m.meta_value) AS meta_value FROM {$wpdb->users} u LEFT JOIN {$wpdb->usermeta} m ON m.user_id = u.ID AND m.meta_key = %s WHERE u.ID > %d AND ( %s = '' OR EXISTS ( SELECT 1 FROM {$wpdb->usermeta} c WHERE c.user_id = u.ID AND c.meta_key = %s ) ) GROUP BY u.ID, u.user_email ORDER BY u.ID ASC LIMIT %d",
				Wpprivsync_Plugin::CONSENT_META,
				$after,
				$member,
				$member,
				(int) $request['limit']
			),
			ARRAY_A
		);
		$users  = array();
		foreach ( (array) $rows as $row ) {
			$users[] = array(
				'id'         => (int) $row['ID'],
				'email'      => Wpprivsync_Plugin::normalise_email( $row['user_email'] ),
				// null: the person never answered in WordPress (they may have subscribed through an
				// ActiveCampaign form), which reconcile must not read as a withdrawal.
				// Also null for an email the user never proved to own (docs/IDENTITY.md): reconcile
				// must not act on someone else's address through it.
				'subscribed' => null === $row['meta_value'] || '' === $row['meta_value'] || '' === Wpprivsync_Identity::proof( (int) $row['ID'], $row['user_email'] ) ? null : Wpprivsync_Consent::is_yes( $row['meta_value'] ),
			);
		}
		return rest_ensure_response(
			array(
				'users'   => $users,
				'last_id' => $users ? end( $users )['id'] : $after,
			)
		);
	}

	/**
	 * GET /orders.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function get_orders( WP_REST_Request $request ) {
		$missing = self::require_woocommerce();
		if ( $missing ) {
			return $missing;
		}
		return rest_ensure_response(
			Wpprivsync_Orders::find(
				$request['email'] ? (string) $request['email'] : null,
				$request['before'] ? (string) $request['before'] : null,
				(int) $request['page'],
				(int) $request['per_page']
			)
		);
	}

	/**
	 * POST /orders/anonymize.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function anonymize_orders( WP_REST_Request $request ) {
		$missing = self::require_woocommerce();
		if ( $missing ) {
			return $missing;
		}
		return rest_ensure_response( Wpprivsync_Orders::anonymize( (array) $request['order_ids'] ) );
	}

	/**
	 * GET /retention.
	 *
	 * @return WP_REST_Response
	 */
	public static function get_retention() {
		return rest_ensure_response( Wpprivsync_Retention::rule() );
	}

	/**
	 * POST /retention.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response
	 */
	public static function set_retention( WP_REST_Request $request ) {
		return rest_ensure_response( Wpprivsync_Retention::set_rule( (int) $request['order_years'], (int) $request['tax_year_start_month'] ) );
	}

	/**
	 * POST /requests/scrub.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response
	 */
	public static function scrub_requests( WP_REST_Request $request ) {
		return rest_ensure_response( array( 'scrubbed' => Wpprivsync_Privacy::scrub_requests( (int) $request['older_than_days'] ) ) );
	}

	/**
	 * POST /heartbeat.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response
	 */
	public static function heartbeat( WP_REST_Request $request ) {
		// Keys beyond the documented ones (e.g. near_deadline) are kept as sent, within a size cap.
		$extra = array_diff_key( (array) $request->get_json_params(), array_flip( array( 'at', 'age_s', 'version', 'queue', 'last_error', 'failed', 'requests' ) ) );
		$extra = array_filter( $extra, static fn( $key ) => is_string( $key ) && preg_match( '/^[a-z0-9_]{1,64}$/', $key ), ARRAY_FILTER_USE_KEY );
		if ( strlen( (string) wp_json_encode( $extra ) ) > self::HEARTBEAT_EXTRA_MAX ) {
			$extra = array();
		}
		$body = $extra + array(
			'at'         => time(),
			'version'    => (string) $request['version'],
			'queue'      => (int) $request['queue'],
			'last_error' => null === $request['last_error'] ? null : sanitize_text_field( (string) $request['last_error'] ),
			'failed'     => array_values( (array) $request['failed'] ),
			'requests'   => array_values( (array) $request['requests'] ),
		);
		update_option( Wpprivsync_Plugin::OPTION_HEARTBEAT, $body, false );
		return rest_ensure_response( array( 'ok' => true ) );
	}

	/**
	 * The stored heartbeat with its age, or null.
	 *
	 * @return array|null
	 */
	public static function last_heartbeat() {
		$beat = get_option( Wpprivsync_Plugin::OPTION_HEARTBEAT );
		if ( ! is_array( $beat ) || empty( $beat['at'] ) ) {
			return null;
		}
		$beat['age_s'] = max( 0, time() - (int) $beat['at'] );
		$beat['at']    = gmdate( 'Y-m-d\TH:i:s\Z', (int) $beat['at'] );
		return $beat;
	}

	/**
	 * POST /exports: keeps an archive the daemon built for the admin page's download link.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function store_export( WP_REST_Request $request ) {
		$stored = Wpprivsync_Exports::store( (string) $request['content'] );
		return is_wp_error( $stored ) ? $stored : rest_ensure_response( $stored );
	}

	/**
	 * GET /status.
	 *
	 * @return WP_REST_Response
	 */
	public static function status() {
		return rest_ensure_response(
			array(
				'version'     => WPPRIVSYNC_VERSION,
				'woocommerce' => Wpprivsync_Plugin::woocommerce_active(),
				'outbox'      => array(
					'pending' => Wpprivsync_Outbox::pending_count(),
					'last_id' => Wpprivsync_Outbox::last_id(),
				),
				'heartbeat'   => self::last_heartbeat(),
				'capability'  => current_user_can( Wpprivsync_Plugin::CAPABILITY ),
			)
		);
	}
}
